//! Users and groups: the user directory of a pool.

use std::sync::Arc;

use crate::ports::{Clock, Store};
use crate::services::UserPoolService;

#[derive(Clone)]
pub struct DirectoryService {
    #[allow(dead_code)]
    store: Arc<dyn Store>,
    #[allow(dead_code)]
    clock: Arc<dyn Clock>,
    #[allow(dead_code)]
    pools: UserPoolService,
}

impl DirectoryService {
    pub fn new(store: Arc<dyn Store>, clock: Arc<dyn Clock>, pools: UserPoolService) -> Self {
        Self {
            store,
            clock,
            pools,
        }
    }
}
