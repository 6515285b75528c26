//! CUSTOM_AUTH: sign-in driven by the pool's three challenge triggers (triggers.md §4.5).
//! DefineAuthChallenge reads the rounds so far and decides: issue tokens, fail, or ask another
//! CUSTOM_CHALLENGE, which CreateAuthChallenge makes (public parameters for the client, private
//! ones kept in the Session) and VerifyAuthChallengeResponse judges. Tokens go through the
//! usual second factor, so MFA follows custom auth as in Cognito.
//!
//! With SRP_A (and CHALLENGE_NAME SRP_A) the password is verified first: DefineAuthChallenge
//! sees an `SRP_A` round, asks for PASSWORD_VERIFIER, and is asked again once it is proven.
//! Not yet: `userNotFound` for unknown users hidden by PreventUserExistenceErrors (they answer
//! like a wrong password).

use cognito_model::shapes::ChallengeNameType;
use domain::ports::UserRecord;
use domain::services::triggers::{self, answered_flag, unrecognizable, Caller, Trigger, Triggers};
use domain::{CognitoError, ServiceResult};
use serde_json::{json, Value};

use crate::client_gate::{check_secret_hash, missing};
use crate::flows::{incorrect, param, Candidate, Params, Step};
use crate::sessions::{ChallengeState, CustomRound};
use crate::AuthService;

/// Cognito's rounds are bounded; a DefineAuthChallenge that never decides fails the sign-in.
const MAX_ROUNDS: usize = 20;

impl AuthService {
    /// InitiateAuth / AdminInitiateAuth with CUSTOM_AUTH.
    pub(crate) async fn custom_start(&self, c: &Candidate<'_>, p: &Params) -> ServiceResult<Step> {
        for t in [
            Trigger::DefineAuthChallenge,
            Trigger::CreateAuthChallenge,
            Trigger::VerifyAuthChallengeResponse,
        ] {
            if !Triggers::configured(c.pool, t) {
                return Err(CognitoError::invalid_parameter(
                    "Custom auth lambda trigger is not configured for the user pool.",
                ));
            }
        }
        let username = param(p, "USERNAME").ok_or_else(|| missing("USERNAME"))?;
        check_secret_hash(
            c.client,
            &[username],
            p.get("SECRET_HASH").map(String::as_str),
        )?;
        let Some(user) = self.candidate_user(c, username, None).await? else {
            return Err(incorrect());
        };
        self.pre_authentication(c, &user).await?;
        let device_key = param(p, "DEVICE_KEY").map(str::to_string);
        let Some(srp_a) = param(p, "SRP_A") else {
            return self.custom_next(c, &user, Vec::new(), device_key).await;
        };
        // SRP first: DefineAuthChallenge sees the SRP_A round and asks for PASSWORD_VERIFIER;
        // the password proven, it is asked again (`srp_verify`).
        let history = vec![json!({
            "challengeName": "SRP_A",
            "challengeResult": true,
            "challengeMetadata": null,
        })];
        let defined = self.define(c, &user, &history).await?;
        if answered_flag(&defined, "failAuthentication")? {
            return Err(incorrect());
        }
        match defined.get("challengeName").and_then(Value::as_str) {
            Some("PASSWORD_VERIFIER") => {
                let round = CustomRound {
                    history,
                    private: json!({}),
                    metadata: None,
                };
                self.srp_challenge(c, p, username, srp_a, Some(user), Some(round))
                    .await
            }
            _ => self.decide(c, &user, history, defined, device_key).await,
        }
    }

    /// RespondToAuthChallenge with CUSTOM_CHALLENGE: the answer is judged, the round recorded,
    /// and DefineAuthChallenge decides again.
    pub(crate) async fn custom_answer(
        &self,
        c: &Candidate<'_>,
        state: ChallengeState,
        r: &Params,
    ) -> ServiceResult<Step> {
        let answer = param(r, "ANSWER").ok_or_else(|| missing("ANSWER"))?;
        let Some(round) = state.custom.clone() else {
            return Err(crate::sessions::invalid_session());
        };
        let Some(user) = self.state_user(c, &state).await? else {
            return Err(incorrect());
        };
        let request = json!({
            "userAttributes": triggers::user_attributes(&user),
            "privateChallengeParameters": round.private,
            "challengeAnswer": answer,
            "clientMetadata": self.metadata(c),
            "userNotFound": false,
        });
        let answered = self
            .invoke_custom(
                c,
                &user,
                Trigger::VerifyAuthChallengeResponse,
                request,
                json!({"answerCorrect": null}),
            )
            .await?;
        let correct = answered_flag(&answered, "answerCorrect")?;
        let mut history = round.history;
        history.push(json!({
            "challengeName": "CUSTOM_CHALLENGE",
            "challengeResult": correct,
            "challengeMetadata": round.metadata,
        }));
        self.custom_next(c, &user, history, state.device_key).await
    }

    /// DefineAuthChallenge on the rounds so far, and what it decides.
    pub(crate) async fn custom_next(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        history: Vec<Value>,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        if history.len() >= MAX_ROUNDS {
            return Err(incorrect());
        }
        let defined = self.define(c, user, &history).await?;
        self.decide(c, user, history, defined, device_key).await
    }

    async fn define(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        history: &[Value],
    ) -> ServiceResult<serde_json::Map<String, Value>> {
        let request = json!({
            "userAttributes": triggers::user_attributes(user),
            "session": history,
            "clientMetadata": self.metadata(c),
            "userNotFound": false,
        });
        self.invoke_custom(
            c,
            user,
            Trigger::DefineAuthChallenge,
            request,
            json!({"challengeName": null, "issueTokens": null, "failAuthentication": null}),
        )
        .await
    }

    /// What DefineAuthChallenge's answer asks: fail, tokens, or a CUSTOM_CHALLENGE.
    async fn decide(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        history: Vec<Value>,
        defined: serde_json::Map<String, Value>,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        if answered_flag(&defined, "failAuthentication")? {
            return Err(incorrect());
        }
        if answered_flag(&defined, "issueTokens")? {
            // As after a password: a second factor if the user has one, else tokens.
            return self.second_factor(c, user, self.now_s(), device_key).await;
        }
        match defined.get("challengeName").and_then(Value::as_str) {
            Some("CUSTOM_CHALLENGE") => self.custom_challenge(c, user, history, device_key).await,
            _ => Err(unrecognizable()),
        }
    }

    /// CreateAuthChallenge: the next CUSTOM_CHALLENGE, its private part kept in the Session.
    async fn custom_challenge(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        history: Vec<Value>,
        device_key: Option<String>,
    ) -> ServiceResult<Step> {
        let request = json!({
            "userAttributes": triggers::user_attributes(user),
            "challengeName": "CUSTOM_CHALLENGE",
            "session": history,
            "clientMetadata": self.metadata(c),
            "userNotFound": false,
        });
        let created = self
            .invoke_custom(
                c,
                user,
                Trigger::CreateAuthChallenge,
                request,
                json!({
                    "publicChallengeParameters": null,
                    "privateChallengeParameters": null,
                    "challengeMetadata": null,
                }),
            )
            .await?;
        let mut params = Params::new();
        match created.get("publicChallengeParameters") {
            None | Some(Value::Null) => {}
            Some(Value::Object(m)) => {
                for (k, v) in m {
                    let Value::String(v) = v else {
                        return Err(unrecognizable());
                    };
                    params.insert(k.clone(), v.clone());
                }
            }
            Some(_) => return Err(unrecognizable()),
        }
        params.insert("USERNAME".into(), user.username.clone());
        let metadata = match created.get("challengeMetadata") {
            None | Some(Value::Null) => None,
            Some(Value::String(s)) => Some(s.clone()),
            Some(_) => return Err(unrecognizable()),
        };
        let private = match created.get("privateChallengeParameters") {
            None | Some(Value::Null) => json!({}),
            Some(v @ Value::Object(_)) => v.clone(),
            Some(_) => return Err(unrecognizable()),
        };
        let state = ChallengeState {
            pool_id: c.pool.record.id.clone(),
            client_id: c.client.record.client_id.clone(),
            user_id: Some(user.id.clone()),
            username: user.username.clone(),
            challenge: ChallengeNameType::CustomChallenge.as_str().to_string(),
            admin: c.admin,
            srp: None,
            auth_time_s: None,
            device_key,
            mfa: None,
            tries: 0,
            custom: Some(CustomRound {
                history,
                private,
                metadata,
            }),
        };
        let opened = self
            .sessions
            .open(&state, self.session_minutes(c.client))
            .await?;
        Ok(Step::Challenge {
            name: ChallengeNameType::CustomChallenge,
            session: opened.session,
            params,
        })
    }

    async fn invoke_custom(
        &self,
        c: &Candidate<'_>,
        user: &UserRecord,
        trigger: Trigger,
        request: Value,
        response: Value,
    ) -> ServiceResult<serde_json::Map<String, Value>> {
        let source = match trigger {
            Trigger::DefineAuthChallenge => "DefineAuthChallenge_Authentication",
            Trigger::CreateAuthChallenge => "CreateAuthChallenge_Authentication",
            _ => "VerifyAuthChallengeResponse_Authentication",
        };
        let caller = Caller {
            client_id: Some(&c.client.record.client_id),
        };
        Ok(self
            .services
            .triggers
            .invoke(
                c.pool,
                trigger,
                source,
                &user.username,
                caller,
                request,
                response,
            )
            .await?
            .unwrap_or_default())
    }

    fn metadata(&self, c: &Candidate<'_>) -> Option<Value> {
        c.client_metadata.map(|m| triggers::string_map(m.iter()))
    }
}
