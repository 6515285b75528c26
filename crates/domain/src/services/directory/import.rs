//! Users imported in bulk (seeding a pool, moving a directory in): each becomes exactly the record,
//! search rows and alias claims AdminCreateUser would have written for it, validated against the
//! pool's schema and username rules the same way, but with a status and a password state the
//! importer chooses (e.g. one hash computed once for many users) instead of a generated
//! temporary password.

use cognito_model::shapes::{AttributeType, UserStatusType};

use super::attributes::{self, Mode};
use crate::error::ServiceResult;
use crate::ports::{PasswordState, UserPoolView, UserRecord, UserWrite};

/// One user to import.
#[derive(Clone, Debug)]
pub struct ImportedUser {
    pub username: String,
    pub attributes: Vec<AttributeType>,
    pub status: UserStatusType,
    pub enabled: bool,
    pub password: Option<PasswordState>,
}

/// The write AdminCreateUser would make for this user (a new random `sub`; in a
/// username-attributes pool the username fills its attribute and the sub becomes the username).
/// The caller inserts it, e.g. with the store's bulk import.
pub fn import_write(pool: &UserPoolView, u: ImportedUser, now_ms: i64) -> ServiceResult<UserWrite> {
    let p = &pool.record.settings.pool;
    let fills = attributes::check_new_username(p, &u.username)?;
    let requested = attributes::validate(p, &u.attributes, Mode::Create)?;
    let sub = uuid::Uuid::new_v4().to_string();
    let mut attrs = vec![("sub".to_string(), sub.clone())];
    attrs.extend(requested);
    let username = match fills {
        Some(kind) => {
            match attrs.iter_mut().find(|(n, _)| n == kind) {
                Some(slot) => slot.1 = u.username.clone(),
                None => attrs.push((kind.to_string(), u.username.clone())),
            }
            sub.clone()
        }
        None => u.username,
    };
    attributes::check_required(p, &attrs)?;
    let user = UserRecord {
        pending_attributes: vec![],
        pool_id: pool.record.id.clone(),
        id: sub,
        username_key: attributes::username_key(p, &username),
        username,
        status: u.status.as_str().to_string(),
        enabled: u.enabled,
        created_ms: now_ms,
        modified_ms: now_ms,
        version: 1,
        password: u.password,
        attributes: attrs,
    };
    Ok(UserWrite {
        search: attributes::search_rows(&user.attributes),
        aliases: attributes::alias_claims(p, &user.attributes),
        user,
        force_aliases: false,
    })
}
