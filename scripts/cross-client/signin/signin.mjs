// Sign-in as a browser or Node app does it, with the unmodified npm clients:
//  1. amazon-cognito-identity-js: SRP sign-in (its default flow) of a CONFIRMED user and of a
//     FORCE_CHANGE_PASSWORD user (newPasswordRequired -> completeNewPasswordChallenge), getSession,
//     refreshSession, getUserAttributes (GetUser), globalSignOut.
//  2. aws-jwt-verify: the ID and access tokens from 1 verify against the pool's JWKS; tampered and
//     re-signed tokens are refused; the discovery document names the tokens' issuer and the JWKS.
//
// Usage (the fixture comes from setup.py, which creates the pool, clients and users):
//   GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 node signin.mjs /tmp/signin-fixture.json
// Optional, only for trying the script against another server (e.g. moto):
//   GATEHOUSE_ISSUER_BASE  base of the tokens' `iss` (default: GATEHOUSE_ENDPOINT); iss = <base>/<poolId>
//   GATEHOUSE_JWKS_BASE    where <poolId>/.well-known/* is fetched (default: GATEHOUSE_ISSUER_BASE)
// Exits non-zero if any check fails; the last line reads "signin.mjs: N passed, M failed".

import { readFileSync } from "node:fs";
import {
  AuthenticationDetails,
  CognitoUser,
  CognitoUserPool,
} from "amazon-cognito-identity-js";
import { JwtRsaVerifier } from "aws-jwt-verify";
import { SimpleJwksCache } from "aws-jwt-verify/jwk";
import { validateCognitoJwtFields } from "aws-jwt-verify/cognito-verifier";
import {
  CognitoJwtInvalidClientIdError,
  CognitoJwtInvalidTokenUseError,
  JwtInvalidAudienceError,
  JwtInvalidSignatureAlgorithmError,
  JwtInvalidSignatureError,
  KidNotFoundInJwksError,
} from "aws-jwt-verify/error";

const ENDPOINT = process.env.GATEHOUSE_ENDPOINT?.replace(/\/$/, "");
const fixturePath = process.argv[2];
if (!ENDPOINT || !fixturePath) {
  console.error("usage: GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 node signin.mjs <fixture.json from setup.py>");
  process.exit(2);
}
const fixture = JSON.parse(readFileSync(fixturePath, "utf8"));
const POOL = fixture.poolId;
const WEB = fixture.clients.web.id;
const ISSUER = `${(process.env.GATEHOUSE_ISSUER_BASE ?? ENDPOINT).replace(/\/$/, "")}/${POOL}`;
const WELL_KNOWN = `${(process.env.GATEHOUSE_JWKS_BASE ?? process.env.GATEHOUSE_ISSUER_BASE ?? ENDPOINT).replace(/\/$/, "")}/${POOL}/.well-known`;
// Where the discovery document must say the JWKS is, and where the verifiers fetch it from
// (the same URL unless GATEHOUSE_JWKS_BASE says otherwise).
const JWKS_URI = `${ISSUER}/.well-known/jwks.json`;
const JWKS_FETCH_URI = `${WELL_KNOWN}/jwks.json`;
const ADMIN_SCOPE = "aws.cognito.signin.user.admin";

// ---- check bookkeeping ------------------------------------------------------------------------

let passed = 0;
let failed = 0;
class CheckFailure extends Error {}

function ok(condition, what, detail) {
  if (!condition) throw new CheckFailure(detail === undefined ? what : `${what} (${detail})`);
  passed += 1;
  console.log(`  ok   ${what}`);
}
// Long values (tokens) are shortened in the log.
function short(value) {
  const text = JSON.stringify(value) ?? String(value);
  return text.length <= 140 ? text : `${text.slice(0, 60)}...${text.slice(-20)}`;
}
function eq(actual, expected, what) {
  ok(actual === expected, `${what} = ${short(expected)}`, `got ${short(actual)}`);
}
// Runs one scenario; its first failed check ends it (later steps depend on earlier ones).
async function scenario(name, body) {
  console.log(`# ${name}`);
  try {
    await body();
  } catch (e) {
    failed += 1;
    console.log(`  FAIL ${name}: ${e instanceof CheckFailure ? e.message : `${e.name}: ${e.message}`}`);
    if (!(e instanceof CheckFailure) && e.stack) console.log(e.stack.split("\n").slice(1, 4).join("\n"));
  }
}
// The operation must fail with exactly this Cognito error code and message.
async function failsWith(promise, code, message, what) {
  let error;
  try {
    const value = await promise;
    throw new CheckFailure(`${what}: expected ${code} "${message}", but it succeeded: ${short(value)}`);
  } catch (e) {
    if (e instanceof CheckFailure) throw e;
    error = e;
  }
  ok(error.code === code && error.message === message, `${what} -> ${code} "${message}"`, `got ${error.code} "${error.message}"`);
}

const claims = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[1], "base64url").toString("utf8"));
const header = (jwt) => JSON.parse(Buffer.from(jwt.split(".")[0], "base64url").toString("utf8"));

// Every request amazon-cognito-identity-js sends goes through the global fetch; record the
// operations, so a check can prove which flow the library actually used.
const sent = [];
const realFetch = globalThis.fetch;
globalThis.fetch = (url, options) => {
  const target = options?.headers?.["X-Amz-Target"];
  if (target) sent.push({ op: target.split(".").pop(), body: JSON.parse(options.body) });
  return realFetch(url, options);
};

// ---- amazon-cognito-identity-js, promisified ----------------------------------------------

// Each pool object gets its own token storage, as separate browser tabs/apps would. It answers
// a missing key with null, as a browser's localStorage does (the library's Node fallback answers
// undefined): so refreshSession sends AuthParameters.DEVICE_KEY = null, exactly as in a browser.
function memoryStorage() {
  const m = new Map();
  return {
    setItem: (k, v) => m.set(k, String(v)),
    getItem: (k) => (m.has(k) ? m.get(k) : null),
    removeItem: (k) => m.delete(k),
    clear: () => m.clear(),
  };
}
const Storage = memoryStorage();
const pool = new CognitoUserPool({ UserPoolId: POOL, ClientId: WEB, endpoint: `${ENDPOINT}/`, Storage });

// Resolves with {session} or {newPasswordRequired: {userAttributes, requiredAttributes}}.
function signIn(user, password) {
  return new Promise((resolve, reject) => {
    user.authenticateUser(new AuthenticationDetails({ Username: user.getUsername(), Password: password }), callbacks(resolve, reject));
  });
}
function callbacks(resolve, reject) {
  const unexpected = (name) => (...args) => reject(new CheckFailure(`unexpected ${name} callback: ${JSON.stringify(args)}`));
  return {
    onSuccess: (session) => resolve({ session }),
    onFailure: reject,
    newPasswordRequired: (userAttributes, requiredAttributes) => resolve({ newPasswordRequired: { userAttributes, requiredAttributes } }),
    mfaRequired: unexpected("mfaRequired"),
    totpRequired: unexpected("totpRequired"),
    customChallenge: unexpected("customChallenge"),
    mfaSetup: unexpected("mfaSetup"),
    selectMFAType: unexpected("selectMFAType"),
  };
}
const node = (fn) => new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));

// Tokens collected by part 1 for part 2.
const tokens = {};

function checkSession(session, username, email, what) {
  ok(session.isValid(), `${what}: the session is valid (tokens unexpired by the library's clock)`);
  const id = claims(session.getIdToken().getJwtToken());
  const access = claims(session.getAccessToken().getJwtToken());
  eq(id.token_use, "id", `${what}: ID token token_use`);
  eq(access.token_use, "access", `${what}: access token token_use`);
  eq(id["cognito:username"], username, `${what}: ID token cognito:username`);
  eq(access.username, username, `${what}: access token username`);
  eq(id.email, email, `${what}: ID token email`);
  eq(id.aud, WEB, `${what}: ID token aud`);
  eq(access.client_id, WEB, `${what}: access token client_id`);
  ok(typeof id.sub === "string" && id.sub.length > 0 && id.sub === access.sub, `${what}: both tokens carry the same sub`, `${id.sub} / ${access.sub}`);
  eq(id.iss, ISSUER, `${what}: ID token iss`);
  eq(access.iss, ISSUER, `${what}: access token iss`);
  eq(access.scope, ADMIN_SCOPE, `${what}: access token scope`);
  ok(session.getRefreshToken().getToken()?.length > 0, `${what}: a refresh token was issued`);
}

// ---- 1. amazon-cognito-identity-js --------------------------------------------------------

const ada = fixture.users.ada;
const grace = fixture.users.grace;

await scenario("amazon-cognito-identity-js: SRP sign-in of a CONFIRMED user", async () => {
  sent.length = 0;
  const user = new CognitoUser({ Username: ada.username, Pool: pool, Storage });
  const { session, newPasswordRequired } = await signIn(user, ada.password);
  ok(session && !newPasswordRequired, "authenticateUser -> onSuccess");
  // The library replaces its username with the challenge's USER_ID_FOR_SRP and stores the tokens
  // under it; for a pool without username attributes that is the user name itself.
  eq(user.getUsername(), ada.username, "username after sign-in (USER_ID_FOR_SRP)");
  const flow = sent.map((r) => `${r.op}:${r.body.AuthFlow ?? r.body.ChallengeName}`);
  eq(flow.join(" "), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER", "requests sent");
  tokens.ada = {
    id: session.getIdToken().getJwtToken(),
    access: session.getAccessToken().getJwtToken(),
    refresh: session.getRefreshToken().getToken(),
  };
  checkSession(session, ada.username, ada.email, "ada");
});

await scenario("amazon-cognito-identity-js: wrong password", async () => {
  const user = new CognitoUser({ Username: ada.username, Pool: pool, Storage: memoryStorage() });
  await failsWith(signIn(user, `${ada.password}x`), "NotAuthorizedException", "Incorrect username or password.", "SRP sign-in with a wrong password");
});

await scenario("amazon-cognito-identity-js: getSession, refreshSession, getUserAttributes", async () => {
  ok(tokens.ada, "ada's tokens from the sign-in above are there");
  // A new CognitoUser object restores the session from storage, as after a page reload.
  const user = new CognitoUser({ Username: ada.username, Pool: pool, Storage });
  sent.length = 0;
  const restored = await node((cb) => user.getSession(cb));
  eq(restored.getAccessToken().getJwtToken(), tokens.ada.access, "getSession restores the stored access token");
  eq(sent.length, 0, "getSession of an unexpired session makes no request");

  const refreshed = await node((cb) => user.refreshSession(restored.getRefreshToken(), cb));
  const refreshRequest = sent.find((r) => r.op === "InitiateAuth");
  eq(refreshRequest?.body.AuthFlow, "REFRESH_TOKEN_AUTH", "refreshSession sent InitiateAuth with AuthFlow");
  tokens.adaRefreshed = { id: refreshed.getIdToken().getJwtToken(), access: refreshed.getAccessToken().getJwtToken() };
  checkSession(refreshed, ada.username, ada.email, "refreshed");
  const before = claims(tokens.ada.access);
  const after = claims(refreshed.getAccessToken().getJwtToken());
  ok(refreshed.getAccessToken().getJwtToken() !== tokens.ada.access, "refresh issued a new access token");
  ok(after.jti !== before.jti, "the new access token has a new jti", `${before.jti} -> ${after.jti}`);
  eq(after.auth_time, before.auth_time, "refresh keeps auth_time");
  eq(after.origin_jti, before.origin_jti, "refresh keeps origin_jti");
  eq(refreshed.getRefreshToken().getToken(), tokens.ada.refresh, "refresh token unchanged (rotation off)");

  const attributes = await node((cb) => user.getUserAttributes(cb));
  const byName = Object.fromEntries(attributes.map((a) => [a.getName(), a.getValue()]));
  eq(byName.email, ada.email, "getUserAttributes: email");
  eq(byName.sub, after.sub, "getUserAttributes: sub equals the tokens' sub");
});

await scenario("amazon-cognito-identity-js: FORCE_CHANGE_PASSWORD user answers newPasswordRequired", async () => {
  const user = new CognitoUser({ Username: grace.username, Pool: pool, Storage: memoryStorage() });
  sent.length = 0;
  const first = await signIn(user, grace.temporaryPassword);
  ok(first.newPasswordRequired && !first.session, "authenticateUser with the temporary password -> newPasswordRequired");
  eq(first.newPasswordRequired.userAttributes?.email, grace.email, "newPasswordRequired userAttributes.email");
  ok(Array.isArray(first.newPasswordRequired.requiredAttributes) && first.newPasswordRequired.requiredAttributes.length === 0,
    "newPasswordRequired requiredAttributes is [] (the pool requires no attribute)", JSON.stringify(first.newPasswordRequired.requiredAttributes));
  const completed = await new Promise((resolve, reject) => user.completeNewPasswordChallenge(grace.newPassword, {}, callbacks(resolve, reject)));
  ok(completed.session, "completeNewPasswordChallenge -> onSuccess");
  const flow = sent.map((r) => `${r.op}:${r.body.AuthFlow ?? r.body.ChallengeName}`);
  eq(flow.join(" "), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:NEW_PASSWORD_REQUIRED", "requests sent");
  tokens.grace = { id: completed.session.getIdToken().getJwtToken(), access: completed.session.getAccessToken().getJwtToken() };
  checkSession(completed.session, grace.username, grace.email, "grace after the new password");

  const again = await signIn(new CognitoUser({ Username: grace.username, Pool: pool, Storage: memoryStorage() }), grace.newPassword);
  ok(again.session, "a new SRP sign-in with the new password -> onSuccess");
  eq(claims(again.session.getIdToken().getJwtToken())["cognito:username"], grace.username, "its ID token cognito:username");
  await failsWith(signIn(new CognitoUser({ Username: grace.username, Pool: pool, Storage: memoryStorage() }), grace.temporaryPassword),
    "NotAuthorizedException", "Incorrect username or password.", "the temporary password no longer signs in");
});

// ---- 2. aws-jwt-verify --------------------------------------------------------------------

// aws-jwt-verify's own fetcher speaks HTTPS only; a local server is plain HTTP, so hand the
// library a fetcher that uses Node's fetch. Everything else (JWKS parsing, kid lookup, signature,
// claims) is the library's own code.
const httpFetcher = {
  async fetch(uri) {
    const response = await realFetch(uri);
    if (response.status !== 200) throw new Error(`GET ${uri} -> ${response.status}`);
    return response.arrayBuffer();
  },
};
const jwksCache = new SimpleJwksCache({ fetcher: httpFetcher });
const idVerifier = JwtRsaVerifier.create(
  { issuer: ISSUER, audience: WEB, jwksUri: JWKS_FETCH_URI, customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: "id", clientId: WEB }) },
  { jwksCache },
);
const accessVerifier = JwtRsaVerifier.create(
  { issuer: ISSUER, audience: null, scope: ADMIN_SCOPE, jwksUri: JWKS_FETCH_URI, customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: "access", clientId: WEB }) },
  { jwksCache },
);

async function refused(promise, errorClass, what) {
  try {
    await promise;
  } catch (e) {
    ok(e instanceof errorClass, `${what} -> ${errorClass.name}`, `got ${e.name}: ${e.message}`);
    return;
  }
  throw new CheckFailure(`${what}: expected ${errorClass.name}, but the token verified`);
}
const b64json = (o) => Buffer.from(JSON.stringify(o)).toString("base64url");

await scenario("discovery document and JWKS", async () => {
  const response = await realFetch(`${WELL_KNOWN}/openid-configuration`);
  eq(response.status, 200, "GET .well-known/openid-configuration status");
  const discovery = await response.json();
  eq(discovery.issuer, ISSUER, "discovery issuer");
  ok(tokens.ada, "ada's tokens from the sign-in above are there");
  eq(discovery.issuer, claims(tokens.ada.id).iss, "discovery issuer equals the tokens' iss");
  eq(discovery.jwks_uri, JWKS_URI, "discovery jwks_uri");
  ok(Array.isArray(discovery.id_token_signing_alg_values_supported) && discovery.id_token_signing_alg_values_supported.includes("RS256"),
    "discovery id_token_signing_alg_values_supported includes RS256", JSON.stringify(discovery.id_token_signing_alg_values_supported));

  const jwksResponse = await realFetch(`${WELL_KNOWN}/jwks.json`);
  eq(jwksResponse.status, 200, "GET .well-known/jwks.json status");
  const jwks = await jwksResponse.json();
  ok(Array.isArray(jwks.keys) && jwks.keys.length >= 1, "the JWKS has keys", JSON.stringify(jwks).slice(0, 200));
  for (const key of jwks.keys) {
    ok(key.kty === "RSA" && key.alg === "RS256" && key.use === "sig" && key.e && key.n && key.kid,
      `JWKS key ${key.kid}: kty RSA, alg RS256, use sig, n, e`, JSON.stringify({ ...key, n: key.n?.slice(0, 16) }));
  }
  for (const [name, jwt] of [["ID", tokens.ada.id], ["access", tokens.ada.access]]) {
    const h = header(jwt);
    eq(h.alg, "RS256", `${name} token header alg`);
    ok(jwks.keys.some((k) => k.kid === h.kid), `${name} token kid is in the JWKS`, h.kid);
  }
  console.log(`  info ID token kid ${header(tokens.ada.id).kid}, access token kid ${header(tokens.ada.access).kid}`);
});

await scenario("aws-jwt-verify: genuine tokens verify", async () => {
  ok(tokens.ada && tokens.grace && tokens.adaRefreshed, "tokens from part 1 are there");
  for (const [who, set] of Object.entries({ ada: tokens.ada, "ada (refreshed)": tokens.adaRefreshed, grace: tokens.grace })) {
    const id = await idVerifier.verify(set.id);
    eq(id.token_use, "id", `${who}: verified ID token token_use`);
    eq(id.aud, WEB, `${who}: verified ID token aud`);
    eq(id["cognito:username"], who.split(" ")[0], `${who}: verified ID token cognito:username`);
    const access = await accessVerifier.verify(set.access);
    eq(access.token_use, "access", `${who}: verified access token token_use`);
    eq(access.client_id, WEB, `${who}: verified access token client_id`);
    eq(access.username, who.split(" ")[0], `${who}: verified access token username`);
    ok(id.sub === access.sub && /^[0-9a-f-]{36}$/.test(id.sub), `${who}: verified tokens share a UUID sub`, `${id.sub} / ${access.sub}`);
    ok(Number.isInteger(id.exp) && Number.isInteger(id.iat) && id.exp > id.iat && Number.isInteger(id.auth_time), `${who}: exp/iat/auth_time are integers, exp > iat`);
  }
});

await scenario("aws-jwt-verify: wrong, tampered and re-signed tokens are refused", async () => {
  ok(tokens.ada && tokens.grace, "tokens from part 1 are there");
  await refused(idVerifier.verify(tokens.ada.access), JwtInvalidAudienceError, "an access token given to the ID-token verifier (no aud)");
  await refused(
    JwtRsaVerifier.create({ issuer: ISSUER, audience: null, jwksUri: JWKS_FETCH_URI, customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: "access", clientId: WEB }) }, { jwksCache }).verify(tokens.ada.id),
    CognitoJwtInvalidTokenUseError, "an ID token where an access token is required (token_use)");
  await refused(
    JwtRsaVerifier.create({ issuer: ISSUER, audience: null, jwksUri: JWKS_FETCH_URI, customJwtCheck: ({ payload }) => validateCognitoJwtFields(payload, { tokenUse: "access", clientId: "someotherclient" }) }, { jwksCache }).verify(tokens.ada.access),
    CognitoJwtInvalidClientIdError, "an access token of another client (client_id)");

  const [h, p, s] = tokens.ada.id.split(".");
  const payload = claims(tokens.ada.id);
  // One character of the payload changed (the last character of sub), signature kept.
  const flipped = { ...payload, sub: payload.sub.slice(0, -1) + (payload.sub.endsWith("0") ? "1" : "0") };
  await refused(idVerifier.verify(`${h}.${b64json(flipped)}.${s}`), JwtInvalidSignatureError, "ID token with one character of sub changed");
  await refused(idVerifier.verify(`${h}.${b64json({ ...payload, "cognito:username": "mallory" })}.${s}`), JwtInvalidSignatureError, "ID token with cognito:username rewritten");
  // Signatures taken from other genuine tokens of the same server.
  const [, , accessSignature] = tokens.ada.access.split(".");
  await refused(idVerifier.verify(`${h}.${p}.${accessSignature}`), JwtInvalidSignatureError, "ada's ID token with the signature of her access token");
  const [, , graceSignature] = tokens.grace.id.split(".");
  await refused(idVerifier.verify(`${h}.${p}.${graceSignature}`), JwtInvalidSignatureError, "ada's ID token with the signature of grace's ID token");
  await refused(idVerifier.verify(`${b64json({ ...header(tokens.ada.id), alg: "none" })}.${p}.${s}`), JwtInvalidSignatureAlgorithmError, "ada's ID token re-headed with alg none");
  await refused(idVerifier.verify(`${b64json({ ...header(tokens.ada.id), alg: "HS256" })}.${p}.${s}`), JwtInvalidSignatureAlgorithmError, "ada's ID token re-headed with alg HS256");
  await refused(idVerifier.verify(`${b64json({ ...header(tokens.ada.id), kid: "not-a-key-of-this-pool" })}.${p}.${s}`), KidNotFoundInJwksError, "ada's ID token naming an unknown kid");
});

// Last, since it ends ada's sessions.
await scenario("amazon-cognito-identity-js: globalSignOut", async () => {
  ok(tokens.adaRefreshed, "ada's refreshed session from above is there");
  const user = new CognitoUser({ Username: ada.username, Pool: pool, Storage });
  await node((cb) => user.getSession(cb));
  const result = await new Promise((resolve, reject) => user.globalSignOut({ onSuccess: resolve, onFailure: reject }));
  eq(result, "SUCCESS", "globalSignOut -> onSuccess");
  // The library's own client, without its retrying wrapper, for calls with the old tokens.
  await failsWith(pool.client.promisifyRequest("GetUser", { AccessToken: tokens.adaRefreshed.access }),
    "NotAuthorizedException", "Access Token has been revoked", "GetUser with the access token in use at sign-out");
  await failsWith(pool.client.promisifyRequest("GetUser", { AccessToken: tokens.ada.access }),
    "NotAuthorizedException", "Access Token has been revoked", "GetUser with the first (pre-refresh) access token");
  await failsWith(pool.client.promisifyRequest("InitiateAuth", { ClientId: WEB, AuthFlow: "REFRESH_TOKEN_AUTH", AuthParameters: { REFRESH_TOKEN: tokens.ada.refresh } }),
    "NotAuthorizedException", "Refresh Token has been revoked", "REFRESH_TOKEN_AUTH with the refresh token from before sign-out");
  const fresh = await signIn(new CognitoUser({ Username: ada.username, Pool: pool, Storage: memoryStorage() }), ada.password);
  ok(fresh.session, "ada can sign in again after globalSignOut");
});

console.log(`signin.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed === 0 && passed > 0 ? 0 : 1);
