// MFA and remembered devices as an app on Amplify JS v6 (the `aws-amplify` package) does them,
// run in Node against the server through `userPoolEndpoint`:
//  A. a user of an MFA=ON pool where only TOTP is enabled signs in (SRP) -> nextStep
//     CONTINUE_SIGN_IN_WITH_TOTP_SETUP with totpSetupDetails.sharedSecret (Amplify called
//     AssociateSoftwareToken with the MFA_SETUP session) -> confirmSignIn({challengeResponse: code})
//     (VerifySoftwareToken{Session} + RespondToAuthChallenge MFA_SETUP) -> signed in; the answer's
//     NewDeviceMetadata made Amplify confirm the device (ConfirmDevice) and store it; rememberDevice()
//     (the pool remembers a device only when asked); fetchAuthSession({forceRefresh: true}) refreshes
//     through GetTokensFromRefreshToken with the DeviceKey and gets new tokens with a device_key
//     claim; fetchDevices() lists the device; signOut(); signIn again with the same storage -> DONE
//     at once, through DEVICE_SRP_AUTH / DEVICE_PASSWORD_VERIFIER, no TOTP asked.
//  B. the same user from another device (a fresh storage): CONFIRM_SIGN_IN_WITH_TOTP_CODE ->
//     confirmSignIn with a code of a later 30 s step -> DONE.
//  C. a user without an email address in an MFA=ON pool offering TOTP and email codes:
//     CONTINUE_SIGN_IN_WITH_MFA_SETUP_SELECTION -> confirmSignIn("EMAIL") ->
//     CONTINUE_SIGN_IN_WITH_EMAIL_SETUP -> confirmSignIn(address) (RespondToAuthChallenge MFA_SETUP
//     {USERNAME, EMAIL}) -> CONFIRM_SIGN_IN_WITH_EMAIL_CODE -> confirmSignIn(code from the outbox)
//     (EMAIL_OTP) -> DONE; the address is the user's verified email now, and the next signIn asks
//     for an email code at once.
//
// Amplify ignores a failed ConfirmDevice silently (utils/getNewDeviceMetadata.ts: the sign-in
// succeeds, the device is just not stored), so the checks look at what it sent and stored.
// Device SRP is Amplify's own: handlePasswordVerifierChallenge.ts sends the stored DEVICE_KEY with
// PASSWORD_VERIFIER and, when the server answers DEVICE_SRP_AUTH, handleDeviceSRPAuth.ts answers
// it and DEVICE_PASSWORD_VERIFIER (in node_modules/@aws-amplify/auth/src/providers/cognito/utils/).
//
// Usage (the fixture comes from setup.py):
//   GATEHOUSE_ENDPOINT=http://127.0.0.1:9229 node amplify.mjs /tmp/mfa-fixture.json
// Exits non-zero if any check fails; the last line reads "amplify.mjs: N passed, M failed".

import { Amplify } from "aws-amplify";
import {
  confirmSignIn,
  fetchAuthSession,
  fetchDevices,
  getCurrentUser,
  rememberDevice,
  signIn,
  signOut,
} from "aws-amplify/auth";
import { cognitoUserPoolsTokenProvider } from "aws-amplify/auth/cognito";

import {
  claims,
  eq,
  failsWith,
  finish,
  flow,
  freshTotp,
  info,
  lastRequest,
  loadFixture,
  outboxMark,
  codeIn,
  waitForMessage,
  memoryKeyValueStorage,
  ok,
  scenario,
  sent,
  short,
  sleep,
} from "./common.mjs";

const { endpoint: ENDPOINT, fixture } = loadFixture("amplify.mjs");
const pool = fixture.pools.amplify;
const amy = fixture.users.amy;

// Amplify names a new device (ConfirmDevice DeviceName) after navigator.userAgent, which Node 20
// lacks: without it getDeviceName throws, Amplify skips ConfirmDevice and no device is ever stored.
// Node 21+ has a navigator of its own.
if (typeof globalThis.navigator === "undefined") {
  Object.defineProperty(globalThis, "navigator", { value: { userAgent: "gatehouse-mfa-check (Node.js)" }, configurable: true });
}
const DEVICE_NAME = globalThis.navigator.userAgent;

Amplify.configure({
  Auth: { Cognito: { userPoolId: pool.id, userPoolClientId: pool.clientId, userPoolEndpoint: ENDPOINT } },
});
// Node has no localStorage: Amplify's tokens and device keys go to an in-memory store; one store
// per "device".
let storage = memoryKeyValueStorage();
cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);

// The keys Amplify keeps a device under (tokenProvider/TokenStore.ts, AuthTokenStorageKeys).
function storedDevice(store) {
  const prefix = `CognitoIdentityServiceProvider.${pool.clientId}.${amy.username}`;
  return {
    deviceKey: store.map.get(`${prefix}.deviceKey`),
    deviceGroupKey: store.map.get(`${prefix}.deviceGroupKey`),
    randomPassword: store.map.get(`${prefix}.randomPasswordKey`),
  };
}

// signOut() starts clearing the stored tokens without waiting for it (apis/signOut.ts); let that
// finish before the next call reads the storage.
async function signOutNow() {
  await signOut();
  await sleep(50);
}

// Carried from A to B.
const state = {};

await scenario("Amplify v6: TOTP set-up at sign-in, rememberDevice, refresh with the device, device sign-in", async () => {
  sent.length = 0;
  const first = await signIn({ username: amy.username, password: amy.password });
  eq(first.nextStep?.signInStep, "CONTINUE_SIGN_IN_WITH_TOTP_SETUP", "signIn (MFA ON, only TOTP, no factor yet): nextStep.signInStep");
  eq(first.isSignedIn, false, "isSignedIn");
  const verifierAnswer = lastRequest("RespondToAuthChallenge", "PASSWORD_VERIFIER")?.answer;
  info(`PASSWORD_VERIFIER answered ${verifierAnswer?.ChallengeName} ${short(verifierAnswer?.ChallengeParameters)}`);
  eq(flow(), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER AssociateSoftwareToken", "requests sent");
  const associate = lastRequest("AssociateSoftwareToken");
  ok(associate.body.Session && !associate.body.AccessToken, "AssociateSoftwareToken was sent with the MFA_SETUP Session", short(associate.body));
  const secret = first.nextStep.totpSetupDetails?.sharedSecret;
  ok(/^[A-Z2-7]{16,}$/.test(secret ?? ""), "totpSetupDetails.sharedSecret: an upper-case base32 secret of 16+ characters", `${secret?.length} characters`);
  info(`setup URI: ${first.nextStep.totpSetupDetails.getSetupUri("Gatehouse").toString().replace(secret, "<secret>")}`);

  sent.length = 0;
  const { code, step } = await freshTotp(secret);
  const done = await confirmSignIn({ challengeResponse: code });
  eq(done.nextStep?.signInStep, "DONE", "confirmSignIn(TOTP code): nextStep.signInStep");
  eq(done.isSignedIn, true, "isSignedIn");
  state.secret = secret;
  state.step = step;
  eq(flow(), "VerifySoftwareToken RespondToAuthChallenge:MFA_SETUP ConfirmDevice", "requests sent");
  const verify = lastRequest("VerifySoftwareToken");
  ok(verify.body.Session && verify.body.UserCode === code, "VerifySoftwareToken {Session, UserCode}", short(verify.body));
  eq(lastRequest("RespondToAuthChallenge", "MFA_SETUP").body.ChallengeResponses?.USERNAME, amy.username, "MFA_SETUP ChallengeResponses.USERNAME");

  const metadata = lastRequest("RespondToAuthChallenge", "MFA_SETUP").answer?.AuthenticationResult?.NewDeviceMetadata;
  ok(metadata?.DeviceKey && metadata?.DeviceGroupKey, "the MFA_SETUP answer carries NewDeviceMetadata (device tracking on)", short(metadata));
  const confirm = lastRequest("ConfirmDevice");
  eq(confirm.body.DeviceKey, metadata.DeviceKey, "ConfirmDevice DeviceKey");
  eq(confirm.body.DeviceName, DEVICE_NAME, "ConfirmDevice DeviceName (navigator.userAgent)");
  eq(confirm.status, 200, "ConfirmDevice answered 200");
  eq(confirm.answer?.UserConfirmationNecessary, true, "ConfirmDevice UserConfirmationNecessary (DeviceOnlyRememberedOnUserPrompt true)");
  const stored = storedDevice(storage);
  ok(stored.deviceKey === metadata.DeviceKey && stored.deviceGroupKey === metadata.DeviceGroupKey && stored.randomPassword,
    "Amplify stored the device (key, group key, random password)", short(stored));
  eq((await getCurrentUser()).username, amy.username, "getCurrentUser().username");

  sent.length = 0;
  await rememberDevice();
  eq(flow(), "UpdateDeviceStatus", "rememberDevice() sent");
  const update = lastRequest("UpdateDeviceStatus");
  ok(update.body.DeviceKey === metadata.DeviceKey && update.body.DeviceRememberedStatus === "remembered",
    "UpdateDeviceStatus {DeviceKey, DeviceRememberedStatus: remembered}", short(update.body));
  eq(update.status, 200, "UpdateDeviceStatus answered 200");

  // A forced refresh. Tokens carry whole-second iat: wait so that new tokens differ from the old.
  const before = (await fetchAuthSession()).tokens?.accessToken?.toString();
  ok(before, "fetchAuthSession() has an access token");
  await sleep(1100);
  sent.length = 0;
  const refreshed = await fetchAuthSession({ forceRefresh: true });
  eq(flow(), "GetTokensFromRefreshToken", "fetchAuthSession({forceRefresh: true}) sent");
  eq(lastRequest("GetTokensFromRefreshToken").body.DeviceKey, metadata.DeviceKey, "GetTokensFromRefreshToken DeviceKey");
  const after = refreshed.tokens?.accessToken;
  ok(after && after.toString() !== before, "fetchAuthSession({forceRefresh: true}) returned a new access token",
    short(lastRequest("GetTokensFromRefreshToken").answer));
  ok(after.payload.iat > claims(before).iat, "its iat moved on", `${claims(before).iat} -> ${after.payload.iat}`);
  eq(after.payload.device_key, metadata.DeviceKey, "the refreshed access token's device_key");
  ok(refreshed.tokens.idToken, "and an ID token");

  const devices = await fetchDevices();
  const listed = devices.find((d) => d.id === metadata.DeviceKey);
  ok(listed, "fetchDevices() (ListDevices) lists the device", short(devices.map((d) => d.id)));
  eq(listed.name, DEVICE_NAME, "its name (attribute device_name)");
  info(`device attributes: ${short(listed.attributes)}`);

  sent.length = 0;
  await signOutNow();
  info(`signOut() sent: ${flow() || "nothing"}`);
  await failsWith(getCurrentUser(), "UserUnAuthenticatedException", undefined, "getCurrentUser() after signOut()");
  eq(storedDevice(storage).deviceKey, metadata.DeviceKey, "the device stays stored after signOut()");

  // The remembered device stands in for the TOTP code.
  sent.length = 0;
  const again = await signIn({ username: amy.username, password: amy.password });
  eq(again.nextStep?.signInStep, "DONE", "signIn on the remembered device: nextStep.signInStep (no TOTP challenge)");
  eq(again.isSignedIn, true, "isSignedIn");
  eq(flow(),
    "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER RespondToAuthChallenge:DEVICE_SRP_AUTH RespondToAuthChallenge:DEVICE_PASSWORD_VERIFIER",
    "requests sent");
  eq(lastRequest("RespondToAuthChallenge", "PASSWORD_VERIFIER").body.ChallengeResponses?.DEVICE_KEY, metadata.DeviceKey, "PASSWORD_VERIFIER carried DEVICE_KEY");
  const session = await fetchAuthSession();
  eq(session.tokens?.accessToken?.payload.device_key, metadata.DeviceKey, "the new access token's device_key");
  eq(session.tokens?.accessToken?.payload.username, amy.username, "its username");
  await signOutNow();
  state.deviceKey = metadata.DeviceKey;
});

await scenario("Amplify v6: another device is asked for the TOTP code (CONFIRM_SIGN_IN_WITH_TOTP_CODE)", async () => {
  ok(state.secret, "the TOTP set-up above succeeded");
  storage = memoryKeyValueStorage();
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
  sent.length = 0;
  const first = await signIn({ username: amy.username, password: amy.password });
  eq(first.nextStep?.signInStep, "CONFIRM_SIGN_IN_WITH_TOTP_CODE", "signIn from a new device: nextStep.signInStep");
  eq(flow(), "InitiateAuth:USER_SRP_AUTH RespondToAuthChallenge:PASSWORD_VERIFIER", "requests sent");

  sent.length = 0;
  const { code, step } = await freshTotp(state.secret, state.step);
  const done = await confirmSignIn({ challengeResponse: code });
  eq(done.nextStep?.signInStep, "DONE", `confirmSignIn(code of step +${step - state.step}): nextStep.signInStep`);
  eq(flow(), "RespondToAuthChallenge:SOFTWARE_TOKEN_MFA ConfirmDevice", "requests sent");
  eq(lastRequest("RespondToAuthChallenge", "SOFTWARE_TOKEN_MFA").body.ChallengeResponses?.SOFTWARE_TOKEN_MFA_CODE, code, "SOFTWARE_TOKEN_MFA_CODE sent");
  const newKey = storedDevice(storage).deviceKey;
  ok(newKey && newKey !== state.deviceKey, "a second device was confirmed and stored", newKey);
  eq((await fetchAuthSession()).tokens?.accessToken?.payload.username, amy.username, "access token username");
  await signOutNow();
});

await scenario("Amplify v6: email MFA set up at sign-in with a new address (CONTINUE_SIGN_IN_WITH_EMAIL_SETUP)", async () => {
  const emailPool = fixture.pools.emailsetup;
  const eve = fixture.users.eve;
  const address = `eve-${Date.now()}@example.com`;
  Amplify.configure({
    Auth: { Cognito: { userPoolId: emailPool.id, userPoolClientId: emailPool.clientId, userPoolEndpoint: ENDPOINT } },
  });
  storage = memoryKeyValueStorage();
  cognitoUserPoolsTokenProvider.setKeyValueStorage(storage);
  sent.length = 0;
  const first = await signIn({ username: eve.username, password: eve.password });
  eq(first.nextStep?.signInStep, "CONTINUE_SIGN_IN_WITH_MFA_SETUP_SELECTION", "signIn (MFA ON, TOTP and email offered, no factor, no email): nextStep.signInStep");
  const offered = JSON.parse(lastRequest("RespondToAuthChallenge", "PASSWORD_VERIFIER")?.answer?.ChallengeParameters?.MFAS_CAN_SETUP ?? "[]");
  ok(offered.includes("EMAIL_OTP") && offered.includes("SOFTWARE_TOKEN_MFA"), "MFAS_CAN_SETUP offers EMAIL_OTP and SOFTWARE_TOKEN_MFA", short(offered));
  ok((first.nextStep.allowedMFATypes ?? []).includes("EMAIL"), "allowedMFATypes includes EMAIL", short(first.nextStep.allowedMFATypes));

  sent.length = 0;
  const chosen = await confirmSignIn({ challengeResponse: "EMAIL" });
  eq(chosen.nextStep?.signInStep, "CONTINUE_SIGN_IN_WITH_EMAIL_SETUP", "confirmSignIn(\"EMAIL\"): nextStep.signInStep");

  sent.length = 0;
  const mark = outboxMark(fixture.dataDir);
  const asked = await confirmSignIn({ challengeResponse: address });
  eq(asked.nextStep?.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE", "confirmSignIn(address): nextStep.signInStep");
  eq(flow(), "RespondToAuthChallenge:MFA_SETUP", "requests sent");
  const setup = lastRequest("RespondToAuthChallenge", "MFA_SETUP");
  eq(setup.body.ChallengeResponses?.EMAIL, address, "MFA_SETUP ChallengeResponses.EMAIL");
  eq(setup.answer?.ChallengeName, "EMAIL_OTP", "MFA_SETUP answered EMAIL_OTP");
  eq(asked.nextStep.codeDeliveryDetails?.deliveryMedium, "EMAIL", "codeDeliveryDetails.deliveryMedium");
  const shown = asked.nextStep.codeDeliveryDetails?.destination ?? "";
  ok(shown.includes("*") && !shown.includes(address.split("@")[0]), "codeDeliveryDetails.destination is masked", shown);
  const message = await waitForMessage({ dataDir: fixture.dataDir, poolId: emailPool.id, username: eve.username, channel: "EMAIL", mark });
  eq(message.destination, address, "outbox: the code goes to the address given");
  const code = codeIn(message.body);
  eq(message.body, fixture.emailMessage.replace("{####}", code), "outbox: the body is the pool's EmailMfaConfiguration Message");

  sent.length = 0;
  const done = await confirmSignIn({ challengeResponse: code });
  eq(done.nextStep?.signInStep, "DONE", "confirmSignIn(email code): nextStep.signInStep");
  eq(flow(), "RespondToAuthChallenge:EMAIL_OTP", "requests sent");
  eq(lastRequest("RespondToAuthChallenge", "EMAIL_OTP").body.ChallengeResponses?.EMAIL_OTP_CODE, code, "EMAIL_OTP_CODE sent");
  const idToken = (await fetchAuthSession()).tokens?.idToken?.payload;
  eq(idToken?.email, address, "the ID token's email: the address set up");
  eq(idToken?.email_verified, true, "the ID token's email_verified");
  await signOutNow();

  sent.length = 0;
  const again = await signIn({ username: eve.username, password: eve.password });
  eq(again.nextStep?.signInStep, "CONFIRM_SIGN_IN_WITH_EMAIL_CODE", "the next signIn asks for an email code straight away");
});

finish("amplify.mjs");
