//! The HTTP routes. Each handler carries its OpenAPI description, and the
//! document is assembled from the handlers actually registered.

pub mod containers;
pub mod operations;

use actix_web::{HttpRequest, web};
use utoipa::openapi::OpenApi;

use crate::error::StoreError;

/// Every path template of the API with its methods, read from the OpenAPI
/// document so that a 405 lists exactly what the routes accept.
pub struct RouteTable(Vec<(Vec<String>, Vec<String>)>);

impl RouteTable {
    pub fn from_openapi(api: &OpenApi) -> Self {
        let routes = api
            .paths
            .paths
            .iter()
            .map(|(template, item)| {
                let segments = template.split('/').map(str::to_owned).collect();
                let methods = [
                    ("GET", &item.get),
                    ("POST", &item.post),
                    ("PUT", &item.put),
                    ("PATCH", &item.patch),
                    ("DELETE", &item.delete),
                ]
                .into_iter()
                .filter(|(_, operation)| operation.is_some())
                .map(|(name, _)| name.to_owned())
                .collect();
                (segments, methods)
            })
            .collect();
        Self(routes)
    }

    fn methods_for(&self, path: &str) -> Option<&[String]> {
        let wanted: Vec<&str> = path.split('/').collect();
        self.0
            .iter()
            .find(|(template, _)| {
                template.len() == wanted.len()
                    && template.iter().zip(&wanted).all(|(expected, given)| {
                        (expected.starts_with('{') && !given.is_empty()) || expected == given
                    })
            })
            .map(|(_, methods)| methods.as_slice())
    }
}

/// Answers what no route took: 405 on a known path, 404 elsewhere.
pub async fn fallback(
    request: HttpRequest,
    routes: web::Data<RouteTable>,
) -> Result<actix_web::HttpResponse, StoreError> {
    let method = request.method().to_string();
    let path = request.path().to_owned();
    Err(match routes.methods_for(&path) {
        Some(allowed) => StoreError::MethodNotAllowed {
            method,
            path,
            allowed: allowed.to_vec(),
        },
        None => StoreError::NoSuchRoute { method, path },
    })
}
