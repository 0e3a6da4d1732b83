//! A socket's subscriptions: subscribing with exactly-once recovery, catching up after lost bus
//! events, and the channel → project and role lookup both need.

use super::*;

impl Socket {
    /// Subscribes to a channel the user may read, replaying what it missed after `since`.
    pub(super) async fn subscribe(
        &mut self,
        channel_text: String,
        since: Option<String>,
    ) -> Result<(), CloseReason> {
        let Ok(channel) = Uuid::parse_str(&channel_text) else {
            return self.not_found(channel_text).await;
        };
        if !self.subs.contains_key(&channel) && self.subs.len() >= self.ctx.max_subscriptions {
            let message = format!(
                "a socket may subscribe to {} channels",
                self.ctx.max_subscriptions
            );
            return self
                .error(
                    error_code::TOO_MANY_SUBSCRIPTIONS,
                    message,
                    Some(channel_text),
                )
                .await;
        }
        let (project, role) = match self.access(channel).await {
            Ok(Some(access)) => access,
            Ok(None) => {
                self.drop_sub(channel);
                return self.not_found(channel_text).await;
            }
            Err(e) => {
                self.drop_sub(channel);
                return self.unavailable(e, Some(channel_text)).await;
            }
        };
        // From here on, live events of the channel queue up for this socket.
        let registered = self.ctx.hub.subscribe(project, channel, &self.me).await;
        let limit = self.ctx.recovery_limit;
        let recovery =
            match recovery::recover(&self.ctx.accounts, channel, since.as_deref(), limit).await {
                Ok(recovery) => recovery,
                Err(e) => {
                    self.subs.remove(&channel);
                    self.ctx.hub.unsubscribe(project, channel, self.id);
                    return self.unavailable(e, Some(channel_text)).await;
                }
            };
        if since.is_some() {
            let result = if recovery.recovered {
                "recovered"
            } else {
                "not_recovered"
            };
            self.ctx
                .metrics
                .chat_recoveries
                .get_or_create(&ResultLabel { result })
                .inc();
        }
        let mut seen = Seen::new(limit as usize + 1024);
        for message in &recovery.messages {
            seen.insert(message.id);
            let frame = ServerFrame::MessageCreated {
                message: chat_message(message),
            };
            let encoded = self.encode(&frame);
            self.write(encoded).await?;
        }
        self.subs.insert(
            channel,
            Sub {
                project,
                generation: registered.generation,
                membership: registered.membership,
                can_send: role >= SEND_ROLE,
                seen,
                last: recovery.last,
                typed_at: None,
            },
        );
        tracing::debug!(%channel, recovered = recovery.recovered, replayed = recovery.messages.len(), "subscribed");
        let subscribed = ServerFrame::Subscribed {
            channel: channel_text,
            project: project.to_string(),
            recovered: recovery.recovered,
            replayed: u32::try_from(recovery.messages.len()).unwrap_or(u32::MAX),
            online: registered.online,
        };
        self.answer(&subscribed).await
    }

    /// Re-reads the messages after the newest one delivered and sends those not delivered.
    pub(super) async fn catch_up(
        &mut self,
        channel: Uuid,
        generation: u64,
    ) -> Result<(), CloseReason> {
        let Some(sub) = self.subs.get(&channel) else {
            return Ok(());
        };
        if sub.generation != generation {
            return Ok(());
        }
        self.ctx.metrics.chat_catch_ups.inc();
        let last = sub.last.map(|(_, id)| id);
        let read =
            recovery::after(&self.ctx.accounts, channel, last, self.ctx.recovery_limit).await;
        match read {
            Ok(Some(messages)) => {
                for message in messages {
                    let Some(sub) = self.subs.get_mut(&channel) else {
                        break;
                    };
                    if !sub.seen.insert(message.id) {
                        continue;
                    }
                    sub.last = sub.last.max(Some((message.seq, message.id)));
                    let frame = ServerFrame::MessageCreated {
                        message: chat_message(&message),
                    };
                    let encoded = self.encode(&frame);
                    self.write(encoded).await?;
                }
                Ok(())
            }
            Ok(None) => {
                // Too much to fill in: start over from the newest message.
                if let Ok(latest) = self
                    .ctx
                    .accounts
                    .messages(channel, HistoryPage::Latest, 1)
                    .await
                    && let Some(sub) = self.subs.get_mut(&channel)
                {
                    sub.last = latest.last().map(|m| (m.seq, m.id)).max(sub.last);
                }
                self.error(
                    error_code::HISTORY_GAP,
                    "live events were lost and too many messages were missed to replay: reload the history".into(),
                    Some(channel.to_string()),
                )
                .await
            }
            Err(e) => self.unavailable(e, Some(channel.to_string())).await,
        }
    }

    /// The project of `channel` and the user's role there, if they may read it.
    pub(super) async fn access(
        &mut self,
        channel: Uuid,
    ) -> Result<Option<(Uuid, Role)>, AccountsError> {
        let project = match self.projects.get(&channel) {
            Some(project) => *project,
            None => match self.ctx.accounts.channel(channel).await? {
                Some(found) => {
                    if self.projects.len() >= PROJECT_CACHE {
                        self.projects.clear();
                    }
                    self.projects.insert(channel, found.project_id);
                    found.project_id
                }
                None => return Ok(None),
            },
        };
        let role = self
            .ctx
            .accounts
            .effective_project_role(project, self.user)
            .await?;
        Ok(role.filter(|r| *r >= READ_ROLE).map(|r| (project, r)))
    }

    /// Ends a subscription the user may no longer hold.
    pub(super) fn drop_sub(&mut self, channel: Uuid) {
        if let Some(sub) = self.subs.remove(&channel) {
            self.ctx.hub.unsubscribe(sub.project, channel, self.id);
        }
    }
}
