//! What a socket says into a channel: messages (stored idempotently, answered with `sent`,
//! published to every subscriber, announced to webhooks) and typing.

use super::*;

impl Socket {
    /// Stores a message (once per client id) and tells the channel.
    pub(super) async fn send(
        &mut self,
        channel_text: String,
        client_id: String,
        body: String,
    ) -> Result<(), CloseReason> {
        let client_id_ok = !client_id.is_empty()
            && client_id.len() <= MAX_CLIENT_ID_CHARS
            && client_id.bytes().all(|b| b.is_ascii_graphic());
        if !client_id_ok {
            let message =
                format!("client_id must be 1 to {MAX_CLIENT_ID_CHARS} visible ASCII characters");
            return self
                .error(error_code::INVALID, message, Some(channel_text))
                .await;
        }
        let chars = body.chars().count();
        if chars == 0 || chars > MAX_BODY_CHARS || body.contains('\0') {
            let message =
                format!("body must be 1 to {MAX_BODY_CHARS} characters long, without NUL");
            return self
                .error(error_code::INVALID, message, Some(channel_text))
                .await;
        }
        let Ok(channel) = Uuid::parse_str(&channel_text) else {
            return self.not_found(channel_text).await;
        };
        let (project, role) = match self.access(channel).await {
            Ok(Some(access)) => access,
            Ok(None) => return self.not_found(channel_text).await,
            Err(e) => return self.unavailable(e, Some(channel_text)).await,
        };
        if role < SEND_ROLE {
            return self.forbidden(channel_text).await;
        }
        let sent = match self
            .ctx
            .accounts
            .send_message(channel, self.user, &client_id, &body)
            .await
        {
            Ok(sent) => sent,
            Err(AccountsError::NotFound(_)) => return self.not_found(channel_text).await,
            Err(e) => return self.unavailable(e, Some(channel_text)).await,
        };
        let message = chat_message(&sent.message);
        if sent.created {
            self.ctx.metrics.chat_messages_stored.inc();
            self.ctx
                .hub
                .message_created(project, channel, message.clone());
            if let Some(sub) = self.subs.get_mut(&channel) {
                sub.typed_at = None;
            }
        }
        let webhook = sent.created.then(|| serde_json::to_string(&message));
        self.answer(&ServerFrame::Sent {
            client_id,
            message,
            duplicate: !sent.created,
        })
        .await?;
        // After the answer, so the sender never waits on it: the project's webhooks hear of the
        // message as the REST tier's sends announce it (the same JSON). Never fails the send.
        if let Some(Ok(payload)) = webhook
            && let Err(e) = self
                .ctx
                .accounts
                .enqueue_webhook_event(project, "message.created", &payload, None)
                .await
        {
            tracing::warn!(%project, error = %e, "could not enqueue message.created");
        }
        Ok(())
    }

    /// Tells the channel this user is typing (renewals at most every third of the TTL).
    pub(super) async fn typing(&mut self, channel_text: String) -> Result<(), CloseReason> {
        let sub = Uuid::parse_str(&channel_text)
            .ok()
            .and_then(|id| self.subs.get_mut(&id).map(|sub| (id, sub)));
        let Some((channel, sub)) = sub else {
            return self
                .error(
                    error_code::NOT_SUBSCRIBED,
                    "subscribe to the channel before typing in it".into(),
                    Some(channel_text),
                )
                .await;
        };
        if !sub.can_send {
            return self.forbidden(channel_text).await;
        }
        let now = Instant::now();
        if sub
            .typed_at
            .is_some_and(|at| now.duration_since(at) < self.ctx.typing_ttl / 3)
        {
            return Ok(());
        }
        sub.typed_at = Some(now);
        let project = sub.project;
        self.ctx
            .hub
            .typing(project, channel, &self.user.to_string());
        Ok(())
    }
}
