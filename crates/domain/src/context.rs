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
