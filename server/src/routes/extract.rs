//! What a request to `POST /containers` or `POST /nodes` carries, read and
//! checked before the handler runs: the handler is given the parsed body and
//! how it arrived, or the request is refused with the reason.

use actix_web::dev::Payload;
use actix_web::http::header;
use actix_web::web::{self, BytesMut};
use actix_web::{FromRequest, HttpRequest};
use chrono::Utc;
use futures_util::StreamExt;
use futures_util::future::{LocalBoxFuture, Ready, ready};

use super::containers::Replica;
use crate::error::ApiError;
use crate::ingest::{MAX_BODY_BYTES, Posted, PostedNode, Receipt};

/// A JSON body of one snapshot or an array of them, within the size limit.
impl FromRequest for Posted {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        json_body(request, payload, Posted::parse)
    }
}

/// A JSON body of one node report, within the size limit.
impl FromRequest for PostedNode {
    type Error = ApiError;
    type Future = LocalBoxFuture<'static, Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, payload: &mut Payload) -> Self::Future {
        json_body(request, payload, PostedNode::parse)
    }
}

/// A body declared as JSON and within the size limit, given to `parse`. A
/// wrong type or a declared length over the limit is refused before a byte
/// of the body is read.
fn json_body<T: 'static>(
    request: &HttpRequest,
    payload: &mut Payload,
    parse: fn(&[u8]) -> Result<T, ApiError>,
) -> LocalBoxFuture<'static, Result<T, ApiError>> {
    let acceptable = require_json(request).and_then(|()| require_declared_length(request));
    let payload = payload.take();
    Box::pin(async move {
        acceptable?;
        parse(&read_body(payload).await?)
    })
}

/// When, by which replica, and from which peer a request was received.
impl FromRequest for Receipt {
    type Error = ApiError;
    type Future = Ready<Result<Self, ApiError>>;

    fn from_request(request: &HttpRequest, _: &mut Payload) -> Self::Future {
        let replica = request
            .app_data::<web::Data<Replica>>()
            .expect("the app is given its replica's name");
        ready(Ok(Receipt {
            received_at: Utc::now(),
            received_by: replica.0.clone(),
            reporter_addr: request
                .peer_addr()
                .map(|addr| addr.ip().to_canonical().to_string())
                .unwrap_or_default(),
            forwarded_for: request
                .headers()
                .get("X-Forwarded-For")
                .and_then(|value| value.to_str().ok())
                .map(str::to_owned),
        }))
    }
}

fn require_json(request: &HttpRequest) -> Result<(), ApiError> {
    let content_type = request
        .headers()
        .get(header::CONTENT_TYPE)
        .map(|value| String::from_utf8_lossy(value.as_bytes()).into_owned());
    let essence = content_type
        .as_deref()
        .and_then(|value| value.split(';').next())
        .map(str::trim);
    match essence {
        Some(essence) if essence.eq_ignore_ascii_case("application/json") => Ok(()),
        _ => Err(ApiError::UnsupportedMediaType {
            found: content_type,
        }),
    }
}

fn require_declared_length(request: &HttpRequest) -> Result<(), ApiError> {
    let declared = request
        .headers()
        .get(header::CONTENT_LENGTH)
        .and_then(|value| value.to_str().ok()?.parse::<usize>().ok());
    match declared {
        Some(length) if length > MAX_BODY_BYTES => Err(too_large()),
        _ => Ok(()),
    }
}

/// Reads the body, refusing it as soon as it is over the limit, whatever
/// length was declared.
async fn read_body(mut payload: Payload) -> Result<BytesMut, ApiError> {
    let mut body = BytesMut::new();
    while let Some(chunk) = payload.next().await {
        let chunk = chunk.map_err(|error| ApiError::BodyUnreadable(error.to_string()))?;
        if body.len() + chunk.len() > MAX_BODY_BYTES {
            return Err(too_large());
        }
        body.extend_from_slice(&chunk);
    }
    Ok(body)
}

fn too_large() -> ApiError {
    ApiError::BodyTooLarge {
        limit: MAX_BODY_BYTES,
    }
}
