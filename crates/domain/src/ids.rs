//! Identifiers in Cognito's formats, from a random source so tests can pin them.

use rand::distributions::Alphanumeric;
use rand::Rng;

/// `<region>_<9 alphanumerics>`, e.g. `us-east-1_AbC123xyZ`: clients split on `_` to find the
/// region and the SRP pool name, so the shape matters.
pub fn user_pool_id(region: &str) -> String {
    let suffix: String = rand::thread_rng()
        .sample_iter(&Alphanumeric)
        .take(9)
        .map(char::from)
        .collect();
    format!("{region}_{suffix}")
}

pub fn user_pool_arn(region: &str, account_id: &str, pool_id: &str) -> String {
    format!("arn:aws:cognito-idp:{region}:{account_id}:userpool/{pool_id}")
}

/// Splits a user-pool ARN into (region, account, pool id).
pub fn parse_user_pool_arn(arn: &str) -> Option<(&str, &str, &str)> {
    let rest = arn.strip_prefix("arn:")?;
    let mut parts = rest.splitn(5, ':');
    let _partition = parts.next()?;
    if parts.next()? != "cognito-idp" {
        return None;
    }
    let region = parts.next()?;
    let account = parts.next()?;
    let pool_id = parts.next()?.strip_prefix("userpool/")?;
    if pool_id.is_empty() || pool_id.contains('/') {
        return None;
    }
    Some((region, account, pool_id))
}

/// The region a pool id names (the part before `_`).
pub fn region_of_pool_id(pool_id: &str) -> Option<&str> {
    pool_id
        .split_once('_')
        .map(|(r, _)| r)
        .filter(|r| !r.is_empty())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pool_id_has_cognito_shape() {
        let id = user_pool_id("eu-west-1");
        let (region, suffix) = id.split_once('_').unwrap();
        assert_eq!(region, "eu-west-1");
        assert_eq!(suffix.len(), 9);
        assert!(suffix.chars().all(|c| c.is_ascii_alphanumeric()));
    }

    #[test]
    fn arn_round_trip() {
        let arn = user_pool_arn("us-east-1", "111122223333", "us-east-1_abc");
        assert_eq!(
            parse_user_pool_arn(&arn),
            Some(("us-east-1", "111122223333", "us-east-1_abc"))
        );
        assert_eq!(parse_user_pool_arn("arn:aws:s3:::bucket"), None);
        assert_eq!(
            parse_user_pool_arn("arn:aws:cognito-idp:us-east-1:1:userpool/"),
            None
        );
    }
}
