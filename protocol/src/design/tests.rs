//! The design module end to end: valid designs parse and build into the documented Yjs tree;
//! invalid ones report every problem with an exact pointer; each limit is enforced.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use super::*;
use serde_json::{Value, json};
use yrs::types::ToJson;
use yrs::updates::decoder::Decode;
use yrs::{Array, ArrayRef, Doc, GetString, Map, MapRef, Out, ReadTxn, TextRef, Transact, Update};

fn rect(id: &str, name: &str, x: f64, width: f64) -> Value {
    json!({"id": id, "type": "rectangle", "name": name,
        "geometry": {"x": x, "y": 0, "width": width, "height": 40},
        "style": {"fills": [{"type": "solid", "color": "#FF8800"}], "cornerRadius": 4}})
}

fn text(id: &str, name: &str, characters: &str) -> Value {
    json!({"id": id, "type": "text", "name": name, "characters": characters,
        "geometry": {"x": 8, "y": 8, "width": 200, "height": 24, "rotation": 0},
        "style": {"font": {"family": "Inter", "size": 16, "weight": 600, "align": "left"},
                  "fills": [{"type": "solid", "color": "#111111ff"}]}})
}

/// Two pages; frames with a nested group, shapes, text, a component and an instance of it.
fn sample() -> Value {
    json!({
        "id": "0:0", "type": "document", "name": "Launch site",
        "children": [
            {"id": "1:0", "type": "page", "name": "Home",
             "style": {"fills": [{"type": "solid", "color": "#F5F5F5"}]},
             "children": [
                {"id": "1:1", "type": "frame", "name": "Hero",
                 "geometry": {"x": 0, "y": 0, "width": 1440, "height": 900},
                 "style": {"fills": [{"type": "linear-gradient",
                     "stops": [{"position": 0, "color": "#000000"}, {"position": 1, "color": "#3355FF"}]}]},
                 "children": [
                    text("1:2", "Title", "Ship faster"),
                    {"id": "1:3", "type": "group", "name": "Buttons",
                     "geometry": {"x": 100, "y": 600, "width": 400, "height": 60},
                     "children": [rect("1:4", "Primary", 0.0, 180.0), rect("1:5", "Secondary", 200.0, 180.5)]},
                    {"id": "1:6", "type": "ellipse", "name": "Glow",
                     "geometry": {"x": 900, "y": 100, "width": 300, "height": 300, "rotation": 15.5},
                     "style": {"opacity": 0.4, "strokes": [{"type": "solid", "color": "#FFFFFF"}], "strokeWeight": 2}}
                 ]},
                {"id": "1:7", "type": "frame", "name": "Empty", "geometry": {"x": 0, "y": 1000, "width": 10, "height": 10}}
             ]},
            {"id": "2:0", "type": "page", "name": "Components",
             "children": [
                {"id": "2:1", "type": "component", "name": "Badge",
                 "geometry": {"x": 0, "y": 0, "width": 80, "height": 24},
                 "data": {"plugin": {"version": 3}},
                 "children": [text("2:2", "Label", "New")]},
                {"id": "2:3", "type": "instance", "name": "Badge copy", "componentId": "2:1",
                 "geometry": {"x": 100, "y": 0, "width": 80, "height": 24}, "children": []},
                {"id": "2:4", "type": "vector", "name": "Arrow", "path": "M0 0 L10 10",
                 "geometry": {"x": 0, "y": 50, "width": 10, "height": 10}},
                {"id": "2:5", "type": "line", "name": "Rule",
                 "geometry": {"x": 0, "y": 80, "width": 300, "height": 0}},
                {"id": "2:6", "type": "image", "name": "Photo",
                 "geometry": {"x": 0, "y": 100, "width": 64, "height": 64},
                 "style": {"fills": [{"type": "image", "imageRef": "abc123"}]}},
                text("2:7", "Empty text", "")
             ]}
        ]
    })
}

fn pointers(issues: &[Issue]) -> Vec<&str> {
    issues.iter().map(|i| i.pointer.as_str()).collect()
}

fn built(design: Value) -> Doc {
    let design = parse_value(design, &Limits::DEFAULT).unwrap();
    let update = build_update(design, 7);
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    doc
}

fn get_map<T: yrs::ReadTxn>(txn: &T, map: &MapRef, key: &str) -> MapRef {
    match map.get(txn, key) {
        Some(Out::YMap(m)) => m,
        other => panic!("{key}: not a map: {other:?}"),
    }
}

fn children<T: yrs::ReadTxn>(txn: &T, map: &MapRef) -> Vec<MapRef> {
    let array: ArrayRef = match map.get(txn, "children") {
        Some(Out::YArray(a)) => a,
        other => panic!("children: not an array: {other:?}"),
    };
    array
        .iter(txn)
        .map(|v| match v {
            Out::YMap(m) => m,
            other => panic!("child not a map: {other:?}"),
        })
        .collect()
}

fn string<T: yrs::ReadTxn>(txn: &T, map: &MapRef, key: &str) -> String {
    map.get(txn, key).unwrap().to_string(txn)
}

#[test]
fn design_sample_is_valid_and_counts_its_nodes() {
    let design = parse(sample().to_string().as_bytes(), &Limits::DEFAULT).unwrap();
    assert_eq!(design.node_count, 17);
    assert_eq!(design.root.kind, NodeType::Document);
    assert_eq!(design.root.children[1].name, "Components");
}

#[test]
fn design_builds_the_documented_yjs_tree() {
    let doc = built(sample());
    let root = doc.get_or_insert_map(ROOT);
    let txn = doc.transact();
    assert_eq!(string(&txn, &root, "type"), "document");
    assert_eq!(string(&txn, &root, "name"), "Launch site");
    assert!(root.get(&txn, "style").is_none() && root.get(&txn, "geometry").is_none());
    let pages = children(&txn, &root);
    let names: Vec<String> = pages.iter().map(|p| string(&txn, p, "name")).collect();
    assert_eq!(names, ["Home", "Components"]);
    // A page has a style map but no geometry.
    assert!(pages[0].get(&txn, "geometry").is_none());
    let page_style = get_map(&txn, &pages[0], "style");
    assert!(page_style.get(&txn, "fills").is_some());

    let home = children(&txn, &pages[0]);
    let hero = &home[0];
    assert_eq!(string(&txn, hero, "type"), "frame");
    let geometry = get_map(&txn, hero, "geometry");
    assert_eq!(
        geometry.get(&txn, "width").unwrap().cast::<f64>().unwrap(),
        1440.0
    );
    assert_eq!(
        geometry
            .get(&txn, "rotation")
            .unwrap()
            .cast::<f64>()
            .unwrap(),
        0.0
    );
    let order: Vec<String> = children(&txn, hero)
        .iter()
        .map(|c| string(&txn, c, "name"))
        .collect();
    assert_eq!(order, ["Title", "Buttons", "Glow"]);

    let title = &children(&txn, hero)[0];
    let characters: TextRef = match title.get(&txn, "characters") {
        Some(Out::YText(t)) => t,
        other => panic!("characters: {other:?}"),
    };
    assert_eq!(characters.get_string(&txn), "Ship faster");
    let font = get_map(&txn, title, "style").get(&txn, "font").unwrap();
    assert_eq!(
        serde_json::to_value(font.to_json(&txn)).unwrap(),
        json!({"family": "Inter", "size": 16, "weight": 600, "align": "left"})
    );
    // Leaves have no children array; containers have one even when empty.
    assert!(title.get(&txn, "children").is_none());
    assert!(children(&txn, &home[1]).is_empty());

    let buttons = children(&txn, &children(&txn, hero)[1]);
    let secondary = get_map(&txn, &buttons[1], "geometry");
    assert_eq!(
        secondary.get(&txn, "width").unwrap().cast::<f64>().unwrap(),
        180.5
    );
    let glow = get_map(&txn, &children(&txn, hero)[2], "geometry");
    assert_eq!(
        glow.get(&txn, "rotation").unwrap().cast::<f64>().unwrap(),
        15.5
    );

    let parts = children(&txn, &pages[1]);
    assert_eq!(string(&txn, &parts[1], "componentId"), "2:1");
    assert_eq!(string(&txn, &parts[2], "path"), "M0 0 L10 10");
    let empty: TextRef = match parts[5].get(&txn, "characters") {
        Some(Out::YText(t)) => t,
        other => panic!("characters: {other:?}"),
    };
    assert_eq!(empty.get_string(&txn), "");
    drop(txn);

    // The REST tier's JSON view shows the same tree.
    let view = crate::doc_to_json(&doc);
    let badge = &view[ROOT]["children"][1]["children"][0];
    assert_eq!(badge["data"], json!({"plugin": {"version": 3}}));
    assert_eq!(badge["children"][0]["characters"], "New");
    assert_eq!(
        view[ROOT]["children"][0]["children"][0]["style"]["fills"][0]["stops"][1]["color"],
        "#3355FF"
    );
}

#[test]
fn design_invalid_reports_every_problem_with_its_pointer() {
    let mut design = sample();
    let hero = &mut design["children"][0]["children"][0];
    hero["children"][0]["children"] = json!([rect("9:1", "Inside text", 0.0, 1.0)]);
    hero["children"][1]["children"][0]["geometry"]["width"] = json!(-5);
    hero["children"][1]["children"][1]["id"] = json!("1:4");
    hero["children"][2]["type"] = json!("blob");
    hero["children"][2]["colour"] = json!("red");
    hero["style"]["fills"][0]["stops"][0]["color"] = json!("black");
    hero.as_object_mut().unwrap().remove("name");
    let components = &mut design["children"][1]["children"];
    components[0]["style"] = json!({"font": {"family": "Inter", "size": 12}});
    components[1]["componentId"] = json!("missing");
    components[3]["geometry"]["height"] = json!("0");
    components[4]["style"]["fills"][0] = json!({"type": "solid", "imageRef": "x"});
    components[5].as_object_mut().unwrap().remove("characters");
    design["children"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "3:0", "type": "frame", "name": "Stray",
            "geometry": {"x": 0, "y": 0, "width": 1, "height": 1}}));
    design["children"][0]["children"]
        .as_array_mut()
        .unwrap()
        .push(json!({"id": "4:0", "type": "page", "name": "Nested page"}));
    design["children"][0]["geometry"] = json!({"x": 0, "y": 0, "width": 1, "height": 1});

    let issues = validate(&design, &Limits::DEFAULT).unwrap_err();
    let found = pointers(&issues);
    let expected = [
        "/children/0/geometry",
        "/children/0/children/0",
        "/children/0/children/0/style/fills/0/stops/0/color",
        "/children/0/children/0/children/0/children",
        "/children/0/children/0/children/1/children/0/geometry/width",
        "/children/0/children/0/children/1/children/1/id",
        "/children/0/children/0/children/2/colour",
        "/children/0/children/0/children/2/type",
        "/children/0/children/2/type",
        "/children/1/children/0/style/font",
        "/children/1/children/3/geometry/height",
        "/children/1/children/4/style/fills/0",
        "/children/1/children/4/style/fills/0/imageRef",
        "/children/1/children/5",
        "/children/2/type",
        "/children/1/children/1/componentId",
    ];
    assert_eq!(found, expected, "{issues:#?}");
    let detail = |p: &str| &issues.iter().find(|i| i.pointer == p).unwrap().detail;
    assert_eq!(detail("/children/0/children/0"), "missing name");
    assert!(
        detail("/children/0/children/0/children/1/children/0/geometry/width")
            .contains("must not be negative")
    );
    assert!(
        detail("/children/0/children/0/children/1/children/1/id")
            .contains("already used at /children/0/children/0/children/1/children/0")
    );
    assert!(
        detail("/children/0/children/0/children/2/type").contains("unknown node type \"blob\"")
    );
    assert!(
        detail("/children/0/children/0/children/0/children")
            .contains("a text cannot have children")
    );
    assert!(detail("/children/2/type").contains("only pages"));
    assert!(detail("/children/0/children/2/type").contains("a page can only sit"));
    assert_eq!(
        detail("/children/1/children/3/geometry/height"),
        "height must be a number"
    );
}

#[test]
fn design_root_must_be_a_document_with_pages() {
    let issues = validate(
        &json!({"id": "p", "type": "page", "name": "P"}),
        &Limits::DEFAULT,
    )
    .unwrap_err();
    assert_eq!(pointers(&issues), ["/type"]);
    let issues = validate(
        &json!({"id": "d", "type": "document", "name": "D", "children": []}),
        &Limits::DEFAULT,
    )
    .unwrap_err();
    assert_eq!(issues[0].pointer, "/children");
    let issues = validate(&json!([1, 2]), &Limits::DEFAULT).unwrap_err();
    assert_eq!(issues[0].pointer, "");
    let issues = parse(b"{\"id\": ", &Limits::DEFAULT).unwrap_err();
    assert_eq!(issues[0].pointer, "");
    assert!(issues[0].detail.contains("not valid JSON"));
}

#[test]
fn design_limits_are_enforced() {
    let limits = Limits {
        max_nodes: 5,
        ..Limits::DEFAULT
    };
    let issues = validate(&sample(), &limits).unwrap_err();
    assert_eq!(issues.len(), 1);
    // Document, page, Hero, Title, Buttons are the first five; Primary is the sixth.
    assert_eq!(
        issues[0].pointer,
        "/children/0/children/0/children/1/children/0"
    );

    let limits = Limits {
        max_depth: 3,
        ..Limits::DEFAULT
    };
    let issues = validate(&sample(), &limits).unwrap_err();
    assert_eq!(
        pointers(&issues),
        [
            "/children/0/children/0/children",
            "/children/1/children/0/children"
        ]
    );

    let limits = Limits {
        max_text_chars: 5,
        max_name_chars: 8,
        ..Limits::DEFAULT
    };
    let issues = validate(&sample(), &limits).unwrap_err();
    assert_eq!(
        pointers(&issues),
        [
            "/name",
            "/children/0/children/0/children/0/characters",
            "/children/0/children/0/children/1/children/1/name",
            "/children/1/name",
            "/children/1/children/1/name",
            "/children/1/children/5/name",
        ]
    );

    let bytes = sample().to_string();
    let limits = Limits {
        max_input_bytes: bytes.len() - 1,
        ..Limits::DEFAULT
    };
    assert_eq!(parse(bytes.as_bytes(), &limits).unwrap_err()[0].pointer, "");

    // Twenty frames with neither name nor geometry: forty problems.
    let mut many = sample();
    many["children"][0]["children"][1]["children"] = (0..20)
        .map(|i| json!({"id": format!("x{i}"), "type": "frame"}))
        .collect();
    let limits = Limits {
        max_issues: 10,
        ..Limits::DEFAULT
    };
    let issues = validate(&many, &limits).unwrap_err();
    assert_eq!(issues.len(), 11);
    assert!(
        issues[10].detail.starts_with("30 more problems"),
        "{}",
        issues[10].detail
    );
}

#[test]
fn design_deepest_accepted_nesting_parses_from_json() {
    // A chain of groups down to the deepest level, each with geometry, style and data: every
    // accepted design must be within serde_json's nesting limit.
    let mut node = json!({"id": "leaf", "type": "text", "name": "Deep", "characters": "x",
        "geometry": {"x": 0, "y": 0, "width": 1, "height": 1},
        "style": {"font": {"family": "Inter", "size": 12},
                  "fills": [{"type": "linear-gradient", "stops": [{"position": 0, "color": "#000000"}, {"position": 1, "color": "#FFFFFF"}]}]}});
    for level in (3..MAX_DEPTH).rev() {
        node = json!({"id": format!("g{level}"), "type": "group", "name": "G",
            "geometry": {"x": 0, "y": 0, "width": 1, "height": 1}, "children": [node]});
    }
    let design = json!({"id": "d", "type": "document", "name": "D",
        "children": [{"id": "p", "type": "page", "name": "P", "children": [node]}]});
    let parsed = parse(design.to_string().as_bytes(), &Limits::DEFAULT).unwrap();
    assert_eq!(parsed.node_count, MAX_DEPTH);
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&build_update(parsed, 7)).unwrap())
        .unwrap();
    // The JSON view reads all the way down.
    let mut at = &crate::doc_to_json(&doc)[ROOT];
    for _ in 1..MAX_DEPTH {
        at = &at["children"][0];
    }
    assert_eq!(at["characters"], "x");

    // One level more is refused with a pointer, not a parse error.
    let mut deeper = design.clone();
    let mut slot = &mut deeper["children"][0];
    for _ in 2..MAX_DEPTH {
        slot = &mut slot["children"][0];
    }
    slot["type"] = json!("group");
    slot.as_object_mut().unwrap().remove("characters");
    slot["style"].as_object_mut().unwrap().remove("font");
    slot["children"] = json!([rect("r", "R", 0.0, 1.0)]);
    let issues = parse(deeper.to_string().as_bytes(), &Limits::DEFAULT).unwrap_err();
    assert_eq!(issues.len(), 1);
    assert!(issues[0].pointer.ends_with("/children/0/children"));
    assert!(issues[0].detail.contains("deeper than 48"));
}

#[test]
fn design_rules_for_paints_fonts_and_data() {
    let mut design = sample();
    let title = &mut design["children"][0]["children"][0]["children"][0];
    title["style"]["font"] =
        json!({"size": 0, "weight": 450.5, "align": "middle", "italic": "yes"});
    title["data"] = json!([1]);
    title["style"]["fills"] =
        json!([{"type": "linear-gradient", "stops": [{"position": 2, "color": "#000"}]}]);
    let issues = validate(&design, &Limits::DEFAULT).unwrap_err();
    let base = "/children/0/children/0/children/0";
    let expected: Vec<String> = [
        "/style/fills/0/stops",
        "/style/font",
        "/style/font/size",
        "/style/font/weight",
        "/style/font/italic",
        "/style/font/align",
        "/data",
    ]
    .iter()
    .map(|p| format!("{base}{p}"))
    .collect();
    assert_eq!(pointers(&issues), expected, "{issues:#?}");
    assert_eq!(issues[1].detail, "missing family");
    assert_eq!(issues[2].detail, "size must be more than 0, got 0");

    let mut deep = json!({});
    for _ in 0..limits::MAX_DATA_DEPTH {
        deep = json!({"a": deep});
    }
    let mut design = sample();
    design["children"][0]["children"][0]["data"] = deep;
    assert_eq!(
        pointers(&validate(&design, &Limits::DEFAULT).unwrap_err()),
        ["/children/0/children/0/data"]
    );
}

#[test]
fn design_pointer_escapes_member_names() {
    let mut design = sample();
    design["children"][0]["a/b~c"] = json!(1);
    let issues = validate(&design, &Limits::DEFAULT).unwrap_err();
    assert_eq!(pointers(&issues), ["/children/0/a~1b~0c"]);
}

#[test]
fn design_update_applies_to_a_document_that_already_has_other_roots() {
    // Imports write a fresh document, but the update is an ordinary one: it must merge with
    // whatever a client holds without touching other roots.
    let doc = Doc::new();
    let notes = doc.get_or_insert_text("notes");
    yrs::Text::insert(&notes, &mut doc.transact_mut(), 0, "keep me");
    let update = build_update(parse_value(sample(), &Limits::DEFAULT).unwrap(), 7);
    doc.transact_mut()
        .apply_update(Update::decode_v1(&update).unwrap())
        .unwrap();
    let view = crate::doc_to_json(&doc);
    assert_eq!(view["notes"], "keep me");
    assert_eq!(view[ROOT]["children"].as_array().unwrap().len(), 2);
}

#[test]
fn design_built_twice_with_one_client_id_applies_once() {
    // A resumed import job appends its update again; the second copy must change nothing.
    let first = build_update(parse_value(sample(), &Limits::DEFAULT).unwrap(), 1234);
    let second = build_update(parse_value(sample(), &Limits::DEFAULT).unwrap(), 1234);
    let doc = Doc::new();
    doc.transact_mut()
        .apply_update(Update::decode_v1(&first).unwrap())
        .unwrap();
    let before = (doc.transact().state_vector(), crate::doc_to_json(&doc));
    doc.transact_mut()
        .apply_update(Update::decode_v1(&second).unwrap())
        .unwrap();
    assert_eq!(
        (doc.transact().state_vector(), crate::doc_to_json(&doc)),
        before
    );
    assert_eq!(
        before.1[ROOT]["children"][0]["children"][0]["children"]
            .as_array()
            .unwrap()
            .len(),
        3
    );
    // A different client id writes different items: two imports never merge into one tree.
    let other = build_update(parse_value(sample(), &Limits::DEFAULT).unwrap(), 99);
    doc.transact_mut()
        .apply_update(Update::decode_v1(&other).unwrap())
        .unwrap();
    assert_ne!(doc.transact().state_vector(), before.0);
}
