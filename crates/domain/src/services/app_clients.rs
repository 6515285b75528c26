//! App clients (CreateUserPoolClient …) and their secrets.

use std::sync::Arc;

use crate::ports::{Clock, Store};
use crate::services::UserPoolService;

#[derive(Clone)]
pub struct AppClientService {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
    #[allow(dead_code)]
    clock: Arc<dyn Clock>,
    #[allow(dead_code)]
    pools: UserPoolService,
}

impl AppClientService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, pools: UserPoolService) -> Self {
        Self {
            store,
            clock,
            pools,
        }
    }
}
