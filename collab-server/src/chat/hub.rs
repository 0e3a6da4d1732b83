//! The node's chat hub: which local sockets subscribe to which channels, one bus subscription
//! per project that has any, and the per-project presence and typing state.
//!
//! The hub never awaits a socket or the bus while it holds its lock. It hands each socket a
//! [`Delivery`] with `try_send` (a full queue kicks that socket as a slow reader) and each bus
//! event to the [`Publisher`]'s queue. Events this node's sockets cause are delivered to its
//! own subscribers directly and published for the others; what comes back from the bus with
//! this node as origin is ignored. Every project entry has a generation, so a bus reader of an
//! entry that was dropped and created again cannot deliver twice.

use super::presence::{Change, Presence};
use super::publish::Publisher;
use super::typing::Typing;
use crate::metrics::Metrics;
use crate::peer::{CloseReason, ConnId, Kick};
use crate::room::lock;
use axum::extract::ws::Utf8Bytes;
use bytes::Bytes;
use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use tokio::sync::{mpsc, watch};
use tokio::time::{Duration, Instant};
use tokio_util::sync::CancellationToken;
use uuid::Uuid;
use weft_protocol::chat::{ChatBusEvent, ChatEnvelope, ChatMessage, ServerFrame, project_channel};
use weft_storage::bus::{Bus, BusEvent};

/// A server frame shared by every socket it goes to, encoded at most once per encoding.
#[derive(Debug)]
pub struct Shared {
    pub frame: ServerFrame,
    binary: OnceLock<Bytes>,
    text: OnceLock<Utf8Bytes>,
}

impl Shared {
    pub fn new(frame: ServerFrame) -> Arc<Shared> {
        Arc::new(Shared {
            frame,
            binary: OnceLock::new(),
            text: OnceLock::new(),
        })
    }

    pub fn binary(&self) -> Bytes {
        self.binary
            .get_or_init(|| Bytes::from(self.frame.encode_binary()))
            .clone()
    }

    pub fn text(&self) -> Utf8Bytes {
        self.text
            .get_or_init(|| Utf8Bytes::from(self.frame.encode_text()))
            .clone()
    }
}

/// What the hub hands a socket.
#[derive(Debug)]
pub enum Delivery {
    /// A frame for the socket's subscription `generation` of `channel`; `message` is the
    /// (seq, id) of a `message_created`, which the socket delivers at most once.
    Channel {
        channel: Uuid,
        generation: u64,
        frame: Arc<Shared>,
        message: Option<(i64, Uuid)>,
    },
    /// A presence change of `project`, for the socket's `membership` in it.
    Presence {
        project: Uuid,
        membership: u64,
        frame: Arc<Shared>,
    },
    /// Events of the channel may have been lost: re-read recent messages from the database.
    CatchUp { channel: Uuid, generation: u64 },
}

/// The hub's handle on one socket.
#[derive(Debug)]
pub struct SocketRef {
    pub conn: ConnId,
    pub user: String,
    tx: mpsc::Sender<Delivery>,
    kick: Arc<Kick>,
}

impl SocketRef {
    pub fn new(conn: ConnId, user: String, tx: mpsc::Sender<Delivery>, kick: Arc<Kick>) -> Self {
        SocketRef {
            conn,
            user,
            tx,
            kick,
        }
    }

    /// Queues without waiting; a full queue closes the socket as a slow reader.
    fn push(&self, delivery: Delivery) {
        match self.tx.try_send(delivery) {
            Ok(()) | Err(mpsc::error::TrySendError::Closed(_)) => {}
            Err(mpsc::error::TrySendError::Full(_)) => self.kick.fire(CloseReason::SlowReader),
        }
    }
}

/// A socket subscribed to one or more channels of a project.
#[derive(Debug)]
struct Member {
    socket: Arc<SocketRef>,
    /// Changes each time the socket joins the project anew, so presence frames queued for an
    /// earlier membership are not applied after a newer `subscribed` snapshot.
    membership: u64,
    channels: HashSet<Uuid>,
}

/// One project with local subscribers.
#[derive(Debug)]
struct Project {
    generation: u64,
    members: HashMap<ConnId, Member>,
    /// Channel → subscribed sockets and their subscription generation.
    channels: HashMap<Uuid, HashMap<ConnId, u64>>,
    presence: Presence,
    typing: Typing,
    /// Stops the project's bus reader.
    stop: CancellationToken,
    /// True once the project's bus subscription is confirmed.
    ready: watch::Receiver<bool>,
}

/// What a subscription got from the hub.
#[derive(Debug)]
pub struct Registered {
    pub generation: u64,
    pub membership: u64,
    /// The project's online users when the socket was registered (events after it follow).
    pub online: Vec<String>,
}

/// The hub's timers.
#[derive(Debug, Clone)]
pub struct HubConfig {
    pub typing_ttl: Duration,
    /// How often this node tells the others which users it has (and so that it lives).
    pub heartbeat: Duration,
    /// A node silent this long is gone: its users go offline.
    pub node_timeout: Duration,
}

/// The chat hub of one node.
#[derive(Debug)]
pub struct Hub {
    node: u64,
    bus: Arc<dyn Bus>,
    publisher: Arc<Publisher>,
    config: HubConfig,
    metrics: Arc<Metrics>,
    projects: Mutex<HashMap<Uuid, Project>>,
    next_id: AtomicU64,
}

impl Hub {
    pub fn new(
        node: u64,
        bus: Arc<dyn Bus>,
        publisher: Arc<Publisher>,
        config: HubConfig,
        metrics: Arc<Metrics>,
    ) -> Arc<Hub> {
        Arc::new(Hub {
            node,
            bus,
            publisher,
            config,
            metrics,
            projects: Mutex::default(),
            next_id: AtomicU64::new(1),
        })
    }

    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers `socket` for `channel` of `project` (again: a new generation) and returns
    /// once the project's bus subscription is confirmed, so every event published from then on
    /// reaches the socket's queue.
    pub async fn subscribe(
        self: &Arc<Self>,
        project: Uuid,
        channel: Uuid,
        socket: &Arc<SocketRef>,
    ) -> Registered {
        let generation = self.next_id();
        let (registered, mut ready) = {
            let mut projects = lock(&self.projects);
            let entry = projects
                .entry(project)
                .or_insert_with(|| self.open_project(project));
            let membership = match entry.members.get_mut(&socket.conn) {
                Some(member) => {
                    member.channels.insert(channel);
                    member.membership
                }
                None => {
                    let (first, change) = entry.presence.local_join(&socket.user);
                    if first {
                        self.publisher.publish(
                            project,
                            ChatBusEvent::PresenceJoin {
                                user: socket.user.clone(),
                            },
                        );
                    }
                    if let Some(change) = change {
                        announce(entry, project, change);
                    }
                    let membership = self.next_id();
                    entry.members.insert(
                        socket.conn,
                        Member {
                            socket: socket.clone(),
                            membership,
                            channels: HashSet::from([channel]),
                        },
                    );
                    membership
                }
            };
            entry
                .channels
                .entry(channel)
                .or_default()
                .insert(socket.conn, generation);
            let registered = Registered {
                generation,
                membership,
                online: entry.presence.online(),
            };
            (registered, entry.ready.clone())
        };
        // Err only when the reader ended early (its project was dropped): nothing to wait for.
        let _ = ready.wait_for(|ready| *ready).await;
        registered
    }

    /// Forgets `conn`'s subscription to `channel`; its last one in the project ends its
    /// presence there, and the project's last subscriber drops the bus subscription.
    pub fn unsubscribe(&self, project: Uuid, channel: Uuid, conn: ConnId) {
        let mut projects = lock(&self.projects);
        let Some(entry) = projects.get_mut(&project) else {
            return;
        };
        if let Some(subscribers) = entry.channels.get_mut(&channel) {
            subscribers.remove(&conn);
            if subscribers.is_empty() {
                entry.channels.remove(&channel);
            }
        }
        let left = entry.members.get_mut(&conn).is_some_and(|member| {
            member.channels.remove(&channel);
            member.channels.is_empty()
        });
        if left && let Some(member) = entry.members.remove(&conn) {
            let (last, change) = entry.presence.local_leave(&member.socket.user);
            if last {
                self.publisher.publish(
                    project,
                    ChatBusEvent::PresenceLeave {
                        user: member.socket.user.clone(),
                    },
                );
            }
            if let Some(change) = change {
                announce(entry, project, change);
            }
        }
        if entry.members.is_empty()
            && let Some(entry) = projects.remove(&project)
        {
            entry.stop.cancel();
            self.metrics.chat_projects.dec();
        }
    }

    /// A message this node stored: its subscribers here get it now, the other nodes through
    /// the bus.
    pub fn message_created(&self, project: Uuid, channel: Uuid, message: ChatMessage) {
        self.local_event(project, channel, ServerFrame::MessageCreated { message });
    }

    /// `user` typed in `channel` (on a socket of this node).
    pub fn typing(&self, project: Uuid, channel: Uuid, user: &str) {
        self.local_event(
            project,
            channel,
            ServerFrame::Typing {
                channel: channel.to_string(),
                user: user.to_owned(),
                active: true,
            },
        );
    }

    fn local_event(&self, project: Uuid, channel: Uuid, frame: ServerFrame) {
        let mut projects = lock(&self.projects);
        if let Some(entry) = projects.get_mut(&project) {
            self.apply(entry, channel, frame.clone());
        }
        self.publisher.publish(
            project,
            ChatBusEvent::Channel {
                channel: channel.to_string(),
                frame,
            },
        );
    }

    /// Hands a channel frame to the channel's subscribers, keeping typing state: a typing
    /// renewal is not told again, and a message ends its author's typing indicator.
    fn apply(&self, entry: &mut Project, channel: Uuid, frame: ServerFrame) {
        let tell = match &frame {
            ServerFrame::Typing {
                user, active: true, ..
            } => {
                let deadline = Instant::now() + self.config.typing_ttl;
                entry.typing.start(channel, user, deadline)
            }
            ServerFrame::Typing {
                user,
                active: false,
                ..
            } => entry.typing.stop(channel, user),
            ServerFrame::MessageCreated { message } => {
                if entry.typing.stop(channel, &message.author) {
                    deliver(
                        entry,
                        channel,
                        stopped_typing(channel, &message.author),
                        None,
                    );
                }
                true
            }
            _ => true,
        };
        if !tell {
            return;
        }
        let message = match &frame {
            ServerFrame::MessageCreated { message } => Uuid::parse_str(&message.id)
                .ok()
                .map(|id| (message.seq, id)),
            _ => None,
        };
        deliver(entry, channel, Shared::new(frame), message);
    }

    /// An event from the bus on `project`'s channel, read by the reader of entry `generation`.
    fn on_bus(&self, project: Uuid, generation: u64, envelope: ChatEnvelope) {
        if envelope.origin == self.node {
            return;
        }
        let mut projects = lock(&self.projects);
        let Some(entry) = projects
            .get_mut(&project)
            .filter(|entry| entry.generation == generation)
        else {
            return;
        };
        let now = Instant::now();
        let origin = envelope.origin;
        entry.presence.touch(origin, now);
        match envelope.event {
            ChatBusEvent::Channel { channel, frame } => {
                if let Ok(channel) = Uuid::parse_str(&channel) {
                    self.apply(entry, channel, frame);
                }
            }
            ChatBusEvent::PresenceJoin { user } => {
                let change = entry.presence.remote_join(origin, &user, now);
                change.into_iter().for_each(|c| announce(entry, project, c));
            }
            ChatBusEvent::PresenceLeave { user } => {
                let change = entry.presence.remote_leave(origin, &user, now);
                change.into_iter().for_each(|c| announce(entry, project, c));
            }
            ChatBusEvent::PresenceState { users } => {
                for change in entry.presence.remote_state(origin, users, now) {
                    announce(entry, project, change);
                }
            }
            ChatBusEvent::PresenceQuery => {
                self.publisher.publish(
                    project,
                    ChatBusEvent::PresenceState {
                        users: entry.presence.local_users(),
                    },
                );
            }
            ChatBusEvent::CatchUp => catch_up(entry),
        }
    }

    /// The project's bus subscription may have missed events: subscribers re-read recent
    /// messages, other nodes are asked for their presence, and their clocks restart (silence
    /// while this node was cut off says nothing about them).
    fn on_resync(&self, project: Uuid, generation: u64) {
        let mut projects = lock(&self.projects);
        let Some(entry) = projects
            .get_mut(&project)
            .filter(|entry| entry.generation == generation)
        else {
            return;
        };
        catch_up(entry);
        entry.presence.restart_clocks(Instant::now());
        self.publisher.publish(project, ChatBusEvent::PresenceQuery);
    }

    /// Heartbeat: tells the other nodes this node's users of every project, and forgets the
    /// users of nodes that fell silent (unless this node's own bus is down).
    pub fn heartbeat(&self) {
        let connected = self.bus.is_connected();
        let now = Instant::now();
        let mut projects = lock(&self.projects);
        for (project, entry) in projects.iter_mut() {
            self.publisher.publish(
                *project,
                ChatBusEvent::PresenceState {
                    users: entry.presence.local_users(),
                },
            );
            if connected {
                for change in entry.presence.expire(now, self.config.node_timeout) {
                    announce(entry, *project, change);
                }
            } else {
                entry.presence.restart_clocks(now);
            }
        }
    }

    /// Ends the typing indicators whose time is up.
    pub fn sweep_typing(&self) {
        let now = Instant::now();
        let mut projects = lock(&self.projects);
        for entry in projects.values_mut() {
            for (channel, user) in entry.typing.expire(now) {
                deliver(entry, channel, stopped_typing(channel, &user), None);
            }
        }
    }

    /// Runs the heartbeat and the typing sweep until `stop`.
    pub async fn run_timers(self: Arc<Self>, stop: CancellationToken) {
        let mut heartbeat = tokio::time::interval(self.config.heartbeat);
        heartbeat.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        let sweep_every =
            (self.config.typing_ttl / 4).clamp(Duration::from_millis(10), Duration::from_secs(1));
        let mut sweep = tokio::time::interval(sweep_every);
        sweep.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tokio::select! {
                _ = stop.cancelled() => return,
                _ = heartbeat.tick() => self.heartbeat(),
                _ = sweep.tick() => self.sweep_typing(),
            }
        }
    }

    /// A new project entry, with its bus reader started.
    fn open_project(self: &Arc<Self>, project: Uuid) -> Project {
        let generation = self.next_id();
        let stop = CancellationToken::new();
        let (ready_tx, ready) = watch::channel(false);
        self.metrics.chat_projects.inc();
        tokio::spawn(read_project(
            self.clone(),
            project,
            generation,
            stop.clone(),
            ready_tx,
        ));
        Project {
            generation,
            members: HashMap::new(),
            channels: HashMap::new(),
            presence: Presence::default(),
            typing: Typing::default(),
            stop,
            ready,
        }
    }
}

/// Reads a project's bus channel into the hub until `stop`.
async fn read_project(
    hub: Arc<Hub>,
    project: Uuid,
    generation: u64,
    stop: CancellationToken,
    ready: watch::Sender<bool>,
) {
    let topic = project_channel(&project.to_string());
    let mut subscription = tokio::select! {
        subscription = hub.bus.subscribe(&topic) => subscription,
        _ = stop.cancelled() => return,
    };
    let _ = ready.send(true);
    // Learn who is online on the other nodes now, rather than at their next heartbeat.
    hub.publisher.publish(project, ChatBusEvent::PresenceQuery);
    loop {
        tokio::select! {
            biased;
            _ = stop.cancelled() => return,
            event = subscription.recv() => match event {
                None => return,
                Some(BusEvent::Message(bytes)) => match ChatEnvelope::decode(&bytes) {
                    Ok(envelope) => hub.on_bus(project, generation, envelope),
                    Err(e) => tracing::debug!(%project, error = %e, "malformed chat bus event ignored"),
                },
                Some(BusEvent::Resync(cause)) => {
                    tracing::debug!(%project, ?cause, "chat events may have been lost; catching up");
                    hub.on_resync(project, generation);
                }
            },
        }
    }
}

fn stopped_typing(channel: Uuid, user: &str) -> Arc<Shared> {
    Shared::new(ServerFrame::Typing {
        channel: channel.to_string(),
        user: user.to_owned(),
        active: false,
    })
}

/// Queues `frame` for every subscriber of `channel`.
fn deliver(entry: &Project, channel: Uuid, frame: Arc<Shared>, message: Option<(i64, Uuid)>) {
    let Some(subscribers) = entry.channels.get(&channel) else {
        return;
    };
    for (conn, generation) in subscribers {
        if let Some(member) = entry.members.get(conn) {
            member.socket.push(Delivery::Channel {
                channel,
                generation: *generation,
                frame: frame.clone(),
                message,
            });
        }
    }
}

/// Tells every member of the project that a user came online or went offline.
fn announce(entry: &Project, project: Uuid, (user, online): Change) {
    let frame = Shared::new(ServerFrame::Presence {
        project: project.to_string(),
        user,
        online,
    });
    for member in entry.members.values() {
        member.socket.push(Delivery::Presence {
            project,
            membership: member.membership,
            frame: frame.clone(),
        });
    }
}

/// Asks every subscription of the project to re-read recent messages.
fn catch_up(entry: &Project) {
    for (channel, subscribers) in &entry.channels {
        for (conn, generation) in subscribers {
            if let Some(member) = entry.members.get(conn) {
                member.socket.push(Delivery::CatchUp {
                    channel: *channel,
                    generation: *generation,
                });
            }
        }
    }
}
