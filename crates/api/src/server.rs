//! The HTTP surface: `POST /` for every cognito-idp operation (AWS JSON 1.1, routed on
//! `X-Amz-Target`), CORS for browser clients, and `/health` and `/ready` for operators.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::http::{ConnectionType, StatusCode};
use actix_web::{web, HttpRequest, HttpResponse};
use async_trait::async_trait;
use cognito_model::operations::Operation;
use domain::services::Services;
use domain::RequestContext;
use futures::StreamExt;
use serde_json::Value;
use tracing::Instrument;

use crate::dispatch::dispatch;
use crate::error::{ApiError, MessageKey};
use crate::sigv4::{SignedRequest, Verifier};
use crate::validate::validate_input;

pub const TARGET_PREFIX: &str = "AWSCognitoIdentityProviderService.";
const CONTENT_TYPE: &str = "application/x-amz-json-1.1";
/// The largest request body accepted. The biggest requests of the implemented operations carry
/// members of at most 131072 characters (auth parameters, challenge responses, a SAML metadata
/// document), about 128 KiB, somewhat more once JSON-escaped; 1 MiB leaves several times that
/// while bounding what one connection can make a node buffer (review L6).
pub const MAX_BODY: usize = 1024 * 1024;
/// How long a client may take to send the body once its headers are in, unless configured.
pub const DEFAULT_BODY_READ_TIMEOUT: Duration = Duration::from_secs(10);

/// Whether the database answers, for `/ready`.
#[async_trait]
pub trait Readiness: Send + Sync {
    async fn ready(&self) -> bool;
}

pub struct AppState {
    pub services: Services,
    pub auth: auth_flows::AuthService,
    pub verifier: Verifier,
    pub account_id: String,
    /// Region for unsigned requests that name nothing carrying a region.
    pub default_region: String,
    pub readiness: Arc<dyn Readiness>,
    /// Request-rate limits of the unsigned operations (per node).
    pub throttle: crate::throttle::Throttle,
    /// Deadline for receiving a request body (slow senders would otherwise hold a connection and
    /// a buffer for as long as they like).
    pub body_read_timeout: Duration,
}

/// Mounts the routes on an actix app.
pub fn routes(cfg: &mut web::ServiceConfig) {
    cfg.route("/", web::post().to(handle))
        .route(
            "/",
            web::method(actix_web::http::Method::OPTIONS).to(preflight),
        )
        .route("/health", web::get().to(health))
        .route("/ready", web::get().to(ready))
        .route("/{pool_id}/.well-known/jwks.json", web::get().to(jwks))
        .route(
            "/{pool_id}/.well-known/openid-configuration",
            web::get().to(openid_configuration),
        );
}

async fn health() -> HttpResponse {
    HttpResponse::Ok().json(serde_json::json!({"status": "ok"}))
}

async fn ready(state: web::Data<AppState>) -> HttpResponse {
    if state.readiness.ready().await {
        HttpResponse::Ok().json(serde_json::json!({"status": "ready"}))
    } else {
        HttpResponse::ServiceUnavailable()
            .json(serde_json::json!({"status": "database unreachable"}))
    }
}

/// A pool's public signing keys, as Cognito serves them under the issuer.
async fn jwks(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    well_known(state.auth.jwks(&path).await)
}

async fn openid_configuration(path: web::Path<String>, state: web::Data<AppState>) -> HttpResponse {
    well_known(state.auth.openid_configuration(&path).await)
}

fn well_known(doc: domain::ServiceResult<Option<Value>>) -> HttpResponse {
    match doc {
        Ok(Some(doc)) => HttpResponse::Ok()
            .insert_header(("Access-Control-Allow-Origin", "*"))
            .insert_header(("Cache-Control", "max-age=300"))
            .json(doc),
        // Cognito answers an unknown pool's JWKS with 404 and a small JSON message.
        Ok(None) => HttpResponse::NotFound()
            .json(serde_json::json!({"message": "User pool does not exist."})),
        Err(_) => HttpResponse::InternalServerError()
            .json(serde_json::json!({"message": "Internal error"})),
    }
}

/// Browser SDKs (amazon-cognito-identity-js) call the API cross-origin.
async fn preflight() -> HttpResponse {
    HttpResponse::Ok()
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header(("Access-Control-Allow-Methods", "POST, OPTIONS"))
        .insert_header(("Access-Control-Allow-Headers", "*"))
        .insert_header(("Access-Control-Max-Age", "86400"))
        .finish()
}

async fn handle(
    req: HttpRequest,
    payload: web::Payload,
    state: web::Data<AppState>,
) -> HttpResponse {
    let request_id = uuid::Uuid::new_v4().to_string();
    let target = req
        .headers()
        .get("x-amz-target")
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let op = target
        .strip_prefix(TARGET_PREFIX)
        .and_then(Operation::from_name);
    let span = tracing::info_span!(
        "request",
        request_id = %request_id,
        operation = op.map(|o| o.name()).unwrap_or("unknown"),
        pool_id = tracing::field::Empty,
        outcome = tracing::field::Empty,
    );
    let body = read_body(&req, payload, state.body_read_timeout).await;
    // A body not read to its end leaves the connection in an unknown place: answer and close it.
    let unread = body.is_err();
    let result = async {
        let body = body?;
        let Some(op) = op else {
            return Err(ApiError::unknown_operation());
        };
        process(&state, &req, &body, op, &request_id).await
    }
    .instrument(span.clone())
    .await;
    let mut resp = match result {
        Ok(body) => {
            span.record("outcome", "ok");
            tracing::debug!(parent: &span, "request succeeded");
            respond(StatusCode::OK, body, &request_id, None)
        }
        Err(e) => {
            span.record("outcome", e.type_name.as_ref());
            if e.status >= 500 {
                tracing::error!(parent: &span, error = %e.type_name, "request failed");
            } else {
                tracing::info!(parent: &span, error = %e.type_name, "request rejected");
            }
            error_response(&e, &request_id)
        }
    };
    if unread {
        resp.head_mut().set_connection_type(ConnectionType::Close);
    }
    resp
}

/// Reads the whole body: at most [`MAX_BODY`] bytes, within `deadline`. A declared length above
/// the limit is refused before any of the body is read.
async fn read_body(
    req: &HttpRequest,
    mut payload: web::Payload,
    deadline: Duration,
) -> Result<web::BytesMut, ApiError> {
    let too_large = || ApiError::serialization("Request body too large");
    let declared = req
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<u64>().ok());
    if declared.is_some_and(|n| n > MAX_BODY as u64) {
        return Err(too_large());
    }
    let read = async {
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk =
                chunk.map_err(|_| ApiError::serialization("Could not read the request body"))?;
            // Chunked bodies declare no length, so the limit is also enforced as bytes arrive.
            if body.len() + chunk.len() > MAX_BODY {
                return Err(too_large());
            }
            body.extend_from_slice(&chunk);
        }
        Ok(body)
    };
    tokio::time::timeout(deadline, read)
        .await
        .unwrap_or_else(|_| {
            Err(ApiError::serialization(
                "Timed out reading the request body",
            ))
        })
}

async fn process(
    state: &AppState,
    req: &HttpRequest,
    body: &[u8],
    op: Operation,
    request_id: &str,
) -> Result<Vec<u8>, ApiError> {
    // Signed operations prove their caller first, before the body is even parsed.
    let verified = if op.is_signed() {
        let headers: Vec<(&str, &[u8])> = req
            .headers()
            .iter()
            .map(|(n, v)| (n.as_str(), v.as_bytes()))
            .collect();
        let signed = SignedRequest {
            method: "POST",
            path: req.path(),
            query: req.query_string(),
            headers: &headers,
            body,
        };
        Some(state.verifier.verify(&signed, SystemTime::now())?)
    } else {
        None
    };

    let mut input: Value = if body.iter().all(u8::is_ascii_whitespace) {
        Value::Object(Default::default())
    } else {
        serde_json::from_slice(body).map_err(|_| {
            ApiError::serialization("Unexpected character found where a JSON value was expected")
        })?
    };
    if !input.is_object() {
        return Err(ApiError::serialization("Expected map or null"));
    }
    if let Some(shape) = op.input_shape() {
        validate_input(&input, shape)?;
    }
    crate::validate::drop_nulls(&mut input);
    state.throttle.admit(op, req, &input)?;

    // Only a modelled UserPoolId names the pool: one the operation ignores must not choose the
    // region or the authorised resource (review M1).
    let pool_id = crate::access::modelled_str(op, &input, "UserPoolId");
    if let Some(p) = pool_id {
        tracing::Span::current().record("pool_id", p);
    }
    let region = match &verified {
        Some(v) => v.region.clone(),
        None => pool_id
            .and_then(domain::ids::region_of_pool_id)
            .map(str::to_string)
            .unwrap_or_else(|| state.default_region.clone()),
    };

    if let Some(v) = &verified {
        let action = format!("cognito-idp:{}", op.name());
        let resource = crate::access::authorised_resource(op, &input, &region, &state.account_id);
        if !v.key.allows(&action, &resource) {
            return Err(ApiError::access_denied(format!(
                "User: arn:aws:iam::{}:user/{} is not authorized to perform: {action} on resource: {resource} because no identity-based policy allows the {action} action",
                state.account_id, v.key.name
            )));
        }
    }

    let ctx = RequestContext {
        region,
        account_id: state.account_id.clone(),
        request_id: request_id.to_string(),
    };
    dispatch(&state.services, &state.auth, &ctx, op, input).await
}

fn respond(
    status: StatusCode,
    body: Vec<u8>,
    request_id: &str,
    error_type: Option<&str>,
) -> HttpResponse {
    let mut resp = HttpResponse::build(status);
    resp.insert_header(("Content-Type", CONTENT_TYPE))
        .insert_header(("x-amzn-RequestId", request_id))
        .insert_header(("Access-Control-Allow-Origin", "*"))
        .insert_header((
            "Access-Control-Expose-Headers",
            "x-amzn-RequestId,x-amzn-ErrorType,x-amzn-ErrorMessage,Date",
        ));
    if let Some(t) = error_type {
        resp.insert_header(("x-amzn-ErrorType", format!("{t}:")));
    }
    resp.body(body)
}

/// The longest `x-amzn-ErrorMessage` sent, in characters (all ASCII once cleaned).
const ERROR_HEADER_LIMIT: usize = 1024;

/// `{"__type": ..., "message": ...}` with `x-amzn-ErrorType` and `x-amzn-ErrorMessage` beside it.
pub fn error_response(e: &ApiError, request_id: &str) -> HttpResponse {
    let mut body = serde_json::Map::new();
    body.insert("__type".into(), Value::String(e.type_name.to_string()));
    if let Some(m) = &e.message {
        let key = match e.message_key {
            MessageKey::Lower => "message",
            MessageKey::Upper => "Message",
        };
        body.insert(key.into(), Value::String(m.clone()));
    }
    let bytes = serde_json::to_vec(&Value::Object(body)).unwrap_or_else(|_| b"{}".to_vec());
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::BAD_REQUEST);
    let mut resp = respond(status, bytes, request_id, Some(&e.type_name));
    if let Some(m) = &e.message {
        // Header values cannot carry line breaks or non-visible bytes, and a header line must
        // not grow with the input (boto3 and Node refuse long ones and drop the answer): the
        // header carries at most ERROR_HEADER_LIMIT characters, the body the whole text.
        let clean: String = m
            .chars()
            .take(ERROR_HEADER_LIMIT)
            .map(|c| {
                if c.is_ascii_graphic() || c == ' ' {
                    c
                } else {
                    '?'
                }
            })
            .collect();
        if let Ok(v) = HeaderValue::from_str(&clean) {
            resp.headers_mut()
                .insert(HeaderName::from_static("x-amzn-errormessage"), v);
        }
    }
    resp
}
