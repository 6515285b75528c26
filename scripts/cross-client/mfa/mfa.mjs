// MFA and remembered devices as a browser or Node app does them with the unmodified
// amazon-cognito-identity-js (its default SRP sign-in):
//  0. the TOTP generator of common.mjs agrees with pyotp (mfa.py's authenticator) and RFC 6238;
//  a. TOTP: the library's associateSoftwareToken / verifySoftwareToken / setUserMfaPreference with
//     the signed-in session; later authenticateUser -> totpRequired -> sendMFACode(code, ...,
//     'SOFTWARE_TOKEN_MFA') -> onSuccess (run last, so that its code is of a later 30 s step);
//  b. SMS: authenticateUser -> mfaRequired -> the code from the server's developer outbox ->
//     sendMFACode -> onSuccess;
//  c. devices (a pool with ChallengeRequiredOnNewDevice, every device remembered): an SMS sign-in
//     answers NewDeviceMetadata, the library confirms the device (ConfirmDevice with its own SRP
//     verifier) and keeps its key in its Storage; setDeviceStatusRemembered; the next sign-in with
//     that Storage goes PASSWORD_VERIFIER -> DEVICE_SRP_AUTH -> DEVICE_PASSWORD_VERIFIER -> onSuccess
//     with no MFA callback; refreshSession sends the device key; a sign-in from another Storage
//     (a new device) is asked for MFA again.
//
// Usage (the fixture comes from setup.py, which creates the pools, clients and users; SMS codes
// are read from <data dir>/outbox.jsonl, the data dir named in the fixture or by GATEHOUSE_DATA_DIR):
//   GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 node mfa.mjs /tmp/mfa-fixture.json
// Exits non-zero if any check fails; the last line reads "mfa.mjs: N passed, M failed".

import { AuthenticationDetails, CognitoUser, CognitoUserPool } from "amazon-cognito-identity-js";

import {
  claims,
  codeIn,
  eq,
  finish,
  flow,
  freshTotp,
  info,
  lastRequest,
  loadFixture,
  memoryStorage,
  ok,
  outboxMark,
  scenario,
  sent,
  short,
  totpSelfCheck,
  waitForMessage,
} from "./common.mjs";

const { endpoint: ENDPOINT, fixture } = loadFixture("mfa.mjs");
const { pools, users, dataDir } = fixture;

// ---- amazon-cognito-identity-js, promisified ----------------------------------------------------

// One CognitoUserPool object per pool; each CognitoUser gets the Storage of the "device" it runs on.
const poolObjects = {};
function userPool(label) {
  poolObjects[label] ??= new CognitoUserPool({
    UserPoolId: pools[label].id,
    ClientId: pools[label].clientId,
    endpoint: `${ENDPOINT}/`,
    Storage: memoryStorage(),
  });
  return poolObjects[label];
}
function cognitoUser(user, storage) {
  return new CognitoUser({ Username: user.username, Pool: userPool(user.pool), Storage: storage });
}

// The callbacks of authenticateUser / sendMFACode as one promise: it resolves with the name of the
// callback the library called and its arguments, so each check can say which one it expects.
function outcome(resolve, reject) {
  const called = (kind, names) => (...args) => resolve({ kind, ...Object.fromEntries(names.map((n, i) => [n, args[i]])) });
  return {
    onSuccess: called("onSuccess", ["session", "userConfirmationNecessary"]),
    onFailure: reject,
    mfaRequired: called("mfaRequired", ["challengeName", "challengeParameters"]),
    totpRequired: called("totpRequired", ["challengeName", "challengeParameters"]),
    newPasswordRequired: called("newPasswordRequired", ["userAttributes", "requiredAttributes"]),
    customChallenge: called("customChallenge", ["challengeParameters"]),
    mfaSetup: called("mfaSetup", ["challengeName", "challengeParameters"]),
    selectMFAType: called("selectMFAType", ["challengeName", "challengeParameters"]),
  };
}
const authenticate = (cognito, password) =>
  new Promise((resolve, reject) =>
    cognito.authenticateUser(new AuthenticationDetails({ Username: cognito.getUsername(), Password: password }), outcome(resolve, reject)));
const sendMFACode = (cognito, code, mfaType) =>
  new Promise((resolve, reject) => cognito.sendMFACode(code, outcome(resolve, reject), mfaType));
// Node-style callbacks (err, value), and the {onSuccess, onFailure} ones of the device calls.
const node = (fn) => new Promise((resolve, reject) => fn((err, value) => (err ? reject(err) : resolve(value))));
const callbacks = (fn) => new Promise((resolve, reject) => fn({ onSuccess: resolve, onFailure: reject }));

function expectKind(result, kind, what) {
  const detail = result.kind === "onSuccess" ? "" : ` ${short(result.challengeName ?? result.challengeParameters ?? "")}`;
  ok(result.kind === kind, `${what} -> ${kind}`, `the library called ${result.kind}${detail}`);
}

// The SMS the server sent to this user after `mark`, and the code in it.
async function smsCode(user, mark) {
  const message = await waitForMessage({ dataDir, poolId: pools[user.pool].id, username: user.username, channel: "SMS", mark });
  eq(message.destination, user.phone, "outbox: the SMS goes to the user's phone_number");
  const code = codeIn(message.body);
  ok(code !== undefined, "outbox: the SMS body holds a six-digit code", message.body);
  eq(message.body, fixture.smsMessage.replace("{####}", code), "outbox: the body is the pool's SmsAuthenticationMessage");
  return code;
}

// The keys amazon-cognito-identity-js keeps a device under (CognitoUser.cacheDeviceKeyAndPassword).
function storedDevice(storage, user) {
  const prefix = `CognitoIdentityServiceProvider.${pools[user.pool].clientId}.${user.username}`;
  return {
    deviceKey: storage.getItem(`${prefix}.deviceKey`),
    deviceGroupKey: storage.getItem(`${prefix}.deviceGroupKey`),
    randomPassword: storage.getItem(`${prefix}.randomPasswordKey`),
  };
}

// ---- 0. the TOTP generator ------------------------------------------------------------------------

await totpSelfCheck();

// ---- a. TOTP enrolment with the library's own calls ---------------------------------------------

const tess = users.tess;
// Carried from the enrolment to the TOTP sign-in at the end.
const tessTotp = {};

await scenario("amazon-cognito-identity-js: associateSoftwareToken, verifySoftwareToken, setUserMfaPreference", async () => {
  const cognito = cognitoUser(tess, memoryStorage());
  expectKind(await authenticate(cognito, tess.password), "onSuccess", "sign-in before enrolment (MFA OPTIONAL, no factor yet)");

  sent.length = 0;
  const secret = await new Promise((resolve, reject) =>
    cognito.associateSoftwareToken({ associateSecretCode: resolve, onFailure: reject }));
  ok(lastRequest("AssociateSoftwareToken")?.body.AccessToken, "associateSoftwareToken sent AssociateSoftwareToken with the access token");
  ok(/^[A-Z2-7]{16,}$/.test(secret ?? ""), "associateSecretCode: an upper-case base32 secret of 16+ characters", `${secret?.length} characters`);

  const { code, step } = await freshTotp(secret);
  const verified = await callbacks((cb) => cognito.verifySoftwareToken(code, "gatehouse-check", cb));
  eq(verified?.Status, "SUCCESS", "verifySoftwareToken(code) -> onSuccess, Status");
  eq(lastRequest("VerifySoftwareToken")?.body.FriendlyDeviceName, "gatehouse-check", "VerifySoftwareToken FriendlyDeviceName as sent");

  eq(await node((cb) => cognito.setUserMfaPreference(null, { PreferredMfa: true, Enabled: true }, cb)), "SUCCESS",
    "setUserMfaPreference(null, {Enabled, PreferredMfa}) (SetUserMFAPreference)");
  const data = await node((cb) => cognito.getUserData(cb));
  eq(data.PreferredMfaSetting, "SOFTWARE_TOKEN_MFA", "getUserData: PreferredMfaSetting");
  eq(JSON.stringify(data.UserMFASettingList), JSON.stringify(["SOFTWARE_TOKEN_MFA"]), "getUserData: UserMFASettingList");
  Object.assign(tessTotp, { secret, step });
});

// ---- b. SMS ------------------------------------------------------------------------------------------

const sam = users.sam;

await scenario("amazon-cognito-identity-js: SMS MFA (mfaRequired -> sendMFACode)", async () => {
  const cognito = cognitoUser(sam, memoryStorage());
  const mark = outboxMark(dataDir);
  sent.length = 0;
  const first = await authenticate(cognito, sam.password);
  expectKind(first, "mfaRequired", "authenticateUser of a user with SMS MFA preferred");
  eq(first.challengeName, "SMS_MFA", "mfaRequired challengeName");
  eq(first.challengeParameters?.CODE_DELIVERY_DELIVERY_MEDIUM, "SMS", "mfaRequired CODE_DELIVERY_DELIVERY_MEDIUM");
  const destination = first.challengeParameters?.CODE_DELIVERY_DESTINATION ?? "";
  ok(destination.endsWith(sam.phone.slice(-4)) && destination !== sam.phone && destination.includes("*"),
    "mfaRequired CODE_DELIVERY_DESTINATION is the masked phone number", destination);

  const code = await smsCode(sam, mark);
  const done = await sendMFACode(cognito, code);
  expectKind(done, "onSuccess", "sendMFACode(code) (SMS_MFA)");
  eq(flow(), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:SMS_MFA", "requests sent");
  eq(lastRequest("RespondToAuthChallenge", "SMS_MFA")?.body.ChallengeResponses?.SMS_MFA_CODE, code, "SMS_MFA_CODE sent");
  eq(claims(done.session.getAccessToken().getJwtToken()).username, sam.username, "access token username");
  ok(done.session.isValid(), "the session is valid");
});

// ---- c. a remembered device replaces MFA -------------------------------------------------------

const dana = users.dana;

await scenario("amazon-cognito-identity-js: device tracking (ConfirmDevice, setDeviceStatusRemembered, DEVICE_SRP_AUTH)", async () => {
  // This Storage is dana's device: the library keeps the device key, group key and the device's
  // random password in it.
  const device = memoryStorage();
  const first = cognitoUser(dana, device);
  let mark = outboxMark(dataDir);
  sent.length = 0;
  expectKind(await authenticate(first, dana.password), "mfaRequired", "first sign-in on a new device (MFA ON)");
  ok(!("DEVICE_KEY" in (lastRequest("RespondToAuthChallenge", "PASSWORD_VERIFIER")?.body.ChallengeResponses ?? {})),
    "PASSWORD_VERIFIER carried no DEVICE_KEY (nothing stored yet)");
  const signedIn = await sendMFACode(first, await smsCode(dana, mark));
  expectKind(signedIn, "onSuccess", "sendMFACode(code) on the new device");

  const mfaAnswer = lastRequest("RespondToAuthChallenge", "SMS_MFA")?.answer;
  const metadata = mfaAnswer?.AuthenticationResult?.NewDeviceMetadata;
  ok(metadata?.DeviceKey && metadata?.DeviceGroupKey, "the MFA answer carries NewDeviceMetadata {DeviceKey, DeviceGroupKey}", short(mfaAnswer?.AuthenticationResult ?? mfaAnswer));
  const region = pools.devices.id.split("_")[0];
  ok(metadata.DeviceKey.startsWith(`${region}_`), `DeviceKey has the form ${region}_<id>`, metadata.DeviceKey);
  eq(flow(), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:SMS_MFA ConfirmDevice",
    "requests sent (the library confirmed the device by itself)");
  const confirm = lastRequest("ConfirmDevice");
  eq(confirm.body.DeviceKey, metadata.DeviceKey, "ConfirmDevice DeviceKey");
  ok(confirm.body.DeviceSecretVerifierConfig?.PasswordVerifier && confirm.body.DeviceSecretVerifierConfig?.Salt,
    "ConfirmDevice sent DeviceSecretVerifierConfig {PasswordVerifier, Salt}");
  eq(confirm.status, 200, "ConfirmDevice answered 200");
  ok(signedIn.userConfirmationNecessary !== true, "ConfirmDevice: UserConfirmationNecessary is not true (DeviceOnlyRememberedOnUserPrompt false)",
    short(confirm.answer));
  const stored = storedDevice(device, dana);
  eq(stored.deviceKey, metadata.DeviceKey, "the library stored the device key");
  eq(stored.deviceGroupKey, metadata.DeviceGroupKey, "the library stored the device group key");
  ok(stored.randomPassword, "the library stored the device's random password");
  info(`first access token device_key: ${claims(signedIn.session.getAccessToken().getJwtToken()).device_key ?? "(none)"}`);

  eq(await callbacks((cb) => first.setDeviceStatusRemembered(cb)), "SUCCESS", "setDeviceStatusRemembered (UpdateDeviceStatus remembered)");
  const got = await callbacks((cb) => first.getDevice(cb));
  eq(got?.Device?.DeviceKey, metadata.DeviceKey, "getDevice (GetDevice) DeviceKey");
  info(`GetDevice DeviceAttributes: ${short(got?.Device?.DeviceAttributes)}`);

  // The same device signs in again: a new CognitoUser object with the same Storage.
  const second = cognitoUser(dana, device);
  mark = outboxMark(dataDir);
  sent.length = 0;
  const again = await authenticate(second, dana.password);
  expectKind(again, "onSuccess", "the next sign-in on the remembered device (no mfaRequired/totpRequired)");
  eq(flow(),
    "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:DEVICE_SRP_AUTH RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER",
    "requests sent");
  eq(lastRequest("RespondToAuthChallenge", "PASSWORD_VERIFIER").body.ChallengeResponses.DEVICE_KEY, metadata.DeviceKey, "PASSWORD_VERIFIER carried DEVICE_KEY");
  const access = claims(again.session.getAccessToken().getJwtToken());
  eq(access.username, dana.username, "access token username");
  eq(access.device_key, metadata.DeviceKey, "access token device_key");
  ok(again.session.isValid(), "the session is valid");
  await new Promise((resolve) => setTimeout(resolve, 1000));
  eq(outboxMark(dataDir) - mark, 0, "messages in the outbox since the device sign-in began (no SMS)");

  // refreshSession sends the stored device key with REFRESH_TOKEN_AUTH.
  sent.length = 0;
  const refreshed = await node((cb) => second.refreshSession(again.session.getRefreshToken(), cb));
  eq(lastRequest("InitiateAuth", "REFRESH_TOKEN_AUTH")?.body.AuthParameters?.DEVICE_KEY, metadata.DeviceKey, "refreshSession sent AuthParameters.DEVICE_KEY");
  ok(refreshed.getAccessToken().getJwtToken() !== again.session.getAccessToken().getJwtToken(), "refreshSession got a new access token");
  eq(claims(refreshed.getAccessToken().getJwtToken()).device_key, metadata.DeviceKey, "the refreshed access token's device_key");

  // Another device (an empty Storage) still needs MFA: ChallengeRequiredOnNewDevice.
  sent.length = 0;
  expectKind(await authenticate(cognitoUser(dana, memoryStorage()), dana.password), "mfaRequired", "a sign-in from another device");
});

// ---- a (continued). TOTP sign-in ---------------------------------------------------------------

await scenario("amazon-cognito-identity-js: TOTP MFA (totpRequired -> sendMFACode SOFTWARE_TOKEN_MFA)", async () => {
  ok(tessTotp.secret, "the TOTP enrolment above succeeded");
  const cognito = cognitoUser(tess, memoryStorage());
  sent.length = 0;
  const first = await authenticate(cognito, tess.password);
  expectKind(first, "totpRequired", "authenticateUser of a user with TOTP preferred");
  eq(first.challengeName, "SOFTWARE_TOKEN_MFA", "totpRequired challengeName");

  const { code, step } = await freshTotp(tessTotp.secret, tessTotp.step);
  const done = await sendMFACode(cognito, code, "SOFTWARE_TOKEN_MFA");
  expectKind(done, "onSuccess", `sendMFACode(code of step +${step - tessTotp.step}, 'SOFTWARE_TOKEN_MFA')`);
  eq(flow(), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:SOFTWARE_TOKEN_MFA", "requests sent");
  // The library sends the code under both names; the server must take SOFTWARE_TOKEN_MFA_CODE and
  // ignore SMS_MFA_CODE.
  const responses = lastRequest("RespondToAuthChallenge", "SOFTWARE_TOKEN_MFA").body.ChallengeResponses;
  ok(responses.SOFTWARE_TOKEN_MFA_CODE === code && responses.SMS_MFA_CODE === code, "the library sent SOFTWARE_TOKEN_MFA_CODE and SMS_MFA_CODE", short(responses));
  eq(claims(done.session.getAccessToken().getJwtToken()).username, tess.username, "access token username");
  ok(done.session.isValid(), "the session is valid");
});

finish("mfa.mjs");
