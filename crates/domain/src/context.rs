//! Who is asking, from where: carried from the protocol layer into every service call.

/// The caller's context for one API request.
#[derive(Clone, Debug)]
pub struct RequestContext {
    /// Region the request is addressed to (credential scope for signed calls, the pool id prefix otherwise).
    pub region: String,
    /// The account that owns the resources this node serves.
    pub account_id: String,
    /// The `x-amzn-RequestId` of this request, for logs.
    pub request_id: String,
}

impl RequestContext {
    /// This context addressed to the region a pool id names (unsigned calls carry no credential
    /// scope: the pool they name decides). Ids without a region prefix keep the caller's.
    pub fn for_pool(&self, pool_id: &str) -> RequestContext {
        RequestContext {
            region: crate::ids::region_of_pool_id(pool_id)
                .unwrap_or(&self.region)
                .to_string(),
            account_id: self.account_id.clone(),
            request_id: self.request_id.clone(),
        }
    }
}
