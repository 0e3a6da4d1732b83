//! Updates published on the bus by something that is not a collab node (a REST handler, a
//! script): they reach every node's clients, a skipped sequence number heals through a
//! state-vector exchange, and garbage on the channel changes nothing.

use crate::support::Client;
use crate::support::cluster::{Shared, url};
use bytes::Bytes;
use std::time::Duration;
use weft_protocol::yrs::updates::decoder::Decode;
use weft_protocol::yrs::updates::encoder::Encode;
use weft_protocol::yrs::{Doc, ReadTxn, StateVector, Text, Transact};
use weft_protocol::{Body, Envelope};
use weft_storage::bus::{Bus, BusEvent, BusOptions, RedisBus};

const PRODUCER: u64 = 0xfeed;

async fn producer_bus(shared: &Shared) -> RedisBus {
    RedisBus::connect(
        &shared.redis.url(),
        BusOptions {
            prefix: shared.prefix.clone(),
            queue: 256,
        },
    )
    .await
    .unwrap()
}

async fn publish(bus: &RedisBus, doc: &str, seq: u64, body: Body) {
    let payload = Envelope {
        node: PRODUCER,
        seq,
        body,
    }
    .encode();
    bus.publish(&[(format!("doc:{doc}"), Bytes::from(payload))])
        .await
        .unwrap();
}

/// Appends `s` to the producer's text and returns the update.
fn append(doc: &Doc, s: &str) -> Vec<u8> {
    let before = doc.transact().state_vector();
    let text = doc.get_or_insert_text("content");
    let mut txn = doc.transact_mut();
    let len = text.len(&txn);
    text.insert(&mut txn, len, s);
    drop(txn);
    doc.transact().encode_diff_v1(&before)
}

#[tokio::test]
async fn an_update_from_a_non_client_producer_reaches_clients_on_every_node() {
    let shared = Shared::start().await;
    let nodes = [
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
        shared.node(|_| {}).await,
    ];
    let doc = "produced";
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(Client::join(&url(n, doc)).await);
    }
    let bus = producer_bus(&shared).await;
    // Garbage first: ignored and counted, the room goes on.
    bus.publish(&[(format!("doc:{doc}"), Bytes::from_static(b"\x00garbage"))])
        .await
        .unwrap();
    let source = Doc::new();
    publish(
        &bus,
        doc,
        1,
        Body::Update(append(&source, "from the producer")),
    )
    .await;
    for c in clients.iter_mut() {
        c.until(|c| c.text() == "from the producer").await;
    }
    for n in &nodes {
        let malformed = n
            .wait_metric_at_least(
                r#"weft_collab_bus_received_total{kind="malformed"}"#,
                1.0,
                Duration::from_secs(5),
            )
            .await;
        assert_eq!(malformed, 1.0);
    }
    // Clients still edit normally after the garbage.
    clients[0].insert(0, "> ").await;
    for c in clients.iter_mut() {
        c.until(|c| c.text() == "> from the producer").await;
    }
    for c in clients {
        c.close().await;
    }
    for n in nodes {
        n.stop().await;
    }
    shared.cleanup().await;
}

#[tokio::test]
async fn a_skipped_sequence_number_heals_through_a_state_vector_exchange() {
    let shared = Shared::start().await;
    let nodes = [shared.node(|_| {}).await, shared.node(|_| {}).await];
    let doc = "gap";
    let mut clients = Vec::new();
    for n in &nodes {
        clients.push(Client::join(&url(n, doc)).await);
    }
    // The nodes' own exchange after loading is over before the producer starts.
    for n in &nodes {
        n.wait_metric(
            r#"weft_collab_bus_published_total{kind="sync_request"}"#,
            1.0,
            Duration::from_secs(5),
        )
        .await;
    }
    let bus = producer_bus(&shared).await;
    let mut requests = bus.subscribe(&format!("doc:{doc}")).await;
    let source = Doc::new();
    publish(&bus, doc, 1, Body::Update(append(&source, "one "))).await;
    for c in clients.iter_mut() {
        c.until(|c| c.text() == "one ").await;
    }
    // Update 2 is "lost"; update 3 builds on it.
    let _lost = append(&source, "two ");
    publish(&bus, doc, 3, Body::Update(append(&source, "three"))).await;

    // Answer the state-vector requests the gap causes, as a node hosting the document would.
    let mut seq = 3;
    let answered = tokio::time::timeout(Duration::from_secs(10), async {
        let mut answered = std::collections::HashSet::new();
        while answered.len() < nodes.len() {
            let bytes = match requests.recv().await {
                Some(BusEvent::Message(bytes)) => bytes,
                Some(BusEvent::Resync(_)) => continue,
                None => panic!("the producer's bus closed"),
            };
            let envelope = Envelope::decode(&bytes).unwrap();
            if let Body::SyncRequest { state_vector } = envelope.body {
                let sv = StateVector::decode_v1(&state_vector).unwrap();
                let txn = source.transact();
                seq += 1;
                let reply = Body::SyncReply {
                    to: envelope.node,
                    update: txn.encode_diff_v1(&sv),
                    state_vector: txn.state_vector().encode_v1(),
                    awareness: Vec::new(),
                };
                drop(txn);
                publish(&bus, doc, seq, reply).await;
                answered.insert(envelope.node);
            }
        }
    })
    .await;
    assert!(
        answered.is_ok(),
        "the nodes did not ask for what they missed"
    );
    for c in clients.iter_mut() {
        c.until(|c| c.text() == "one two three").await;
    }
    for n in &nodes {
        let gaps = n
            .metric(r#"weft_collab_bus_resyncs_total{reason="gap"}"#)
            .await;
        assert!(gaps >= 1.0, "{}", n.metrics().await);
    }
    for c in clients {
        c.close().await;
    }
    for n in nodes {
        n.stop().await;
    }
    shared.cleanup().await;
}
