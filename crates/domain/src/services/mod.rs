//! The admin and self-service services, one module per Cognito resource. Each takes the generated
//! request shape and answers the generated response shape or a `CognitoError`.

pub mod app_clients;
pub mod directory;
pub mod identity_providers;
pub mod pagination;
pub mod triggers;
pub mod user_pools;

use std::sync::Arc;

pub use app_clients::AppClientService;
pub use directory::DirectoryService;
pub use identity_providers::IdentityProviderService;
pub use user_pools::UserPoolService;

use crate::ports::{Clock, MessageSender, Store};

/// Every service, wired to one store and one clock.
#[derive(Clone)]
pub struct Services {
    pub user_pools: UserPoolService,
    pub app_clients: AppClientService,
    pub directory: DirectoryService,
    pub identity_providers: IdentityProviderService,
    /// The pool's Lambda triggers, as webhooks.
    pub triggers: triggers::Triggers,
}

impl Services {
    /// Services whose messages are dropped: for tests and tools that send nothing.
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>) -> Self {
        Self::with_sender(store, clock, Arc::new(crate::ports::DropMessages))
    }

    pub fn with_sender(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn MessageSender>,
    ) -> Self {
        Self::with_sender_and_policy(store, clock, sender, directory::SenderPolicy::any())
    }

    /// Services that send through `sender` and let pools name only the email senders `senders`
    /// allows.
    pub fn with_sender_and_policy(
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        sender: Arc<dyn MessageSender>,
        senders: directory::SenderPolicy,
    ) -> Self {
        let user_pools =
            UserPoolService::new(store.clone(), clock.clone()).with_sender_policy(senders);
        Services {
            app_clients: AppClientService::new(store.clone(), clock.clone(), user_pools.clone()),
            directory: DirectoryService::new(store.clone(), clock.clone(), user_pools.clone())
                .with_sender(sender),
            identity_providers: IdentityProviderService::new(store, clock, user_pools.clone()),
            user_pools,
            triggers: Default::default(),
        }
    }

    /// Services that invoke the pools' triggers through `triggers` (and refuse LambdaConfig ARNs
    /// it cannot invoke unless it allows them).
    pub fn with_triggers(mut self, triggers: triggers::Triggers) -> Self {
        // Only CreateUserPool and UpdateUserPool check a LambdaConfig; the other services'
        // copies of the pool service only load pools.
        self.user_pools = self.user_pools.with_triggers(triggers.clone());
        self.directory = self.directory.with_triggers(triggers.clone());
        self.triggers = triggers;
        self
    }

    /// Services whose one-time codes are hashed under `settings`' key and limited by its limits
    /// (every node of a deployment must be given the same key).
    pub fn with_code_settings(mut self, settings: Arc<directory::codes::CodeSettings>) -> Self {
        self.directory = self.directory.with_code_settings(settings);
        self
    }
}
