// CUSTOM_AUTH as an app does it with the unmodified amazon-cognito-identity-js: authenticateUser
// with the CUSTOM_AUTH flow type (SRP first: the library sends CHALLENGE_NAME SRP_A and answers
// PASSWORD_VERIFIER itself), then the customChallenge callback twice (a one-time code, then a
// security question) through sendCustomChallengeAnswer, and a wrong answer refused.
// Usage: GATEHOUSE_ENDPOINT=... node custom_auth.mjs fixture.json
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

// The library comes from scripts/cross-client/signin (NODE_PATH), pinned by its package-lock.
const require = createRequire(import.meta.url);
const { AuthenticationDetails, CognitoUser, CognitoUserPool } = require("amazon-cognito-identity-js");

const ENDPOINT = process.env.GATEHOUSE_ENDPOINT.replace(/\/$/, "");
const fx = JSON.parse(readFileSync(process.argv[2], "utf8"));
let passed = 0;
let failed = 0;
function ok(cond, what, detail = "") {
  if (cond) { passed++; console.log(`  ok   ${what}`); } else { failed++; console.log(`  FAIL ${what} ${detail}`); }
}
function memoryStorage() {
  const m = new Map();
  return { setItem: (k, v) => m.set(k, String(v)), getItem: (k) => m.get(k) ?? null, removeItem: (k) => m.delete(k), clear: () => m.clear() };
}
const pool = new CognitoUserPool({ UserPoolId: fx.poolId, ClientId: fx.clientId, endpoint: `${ENDPOINT}/`, Storage: memoryStorage() });

// Signs in answering each challenge with answers[kind]; resolves with the session and the
// challenges seen.
function customSignIn(answers) {
  const user = new CognitoUser({ Username: fx.username, Pool: pool, Storage: memoryStorage() });
  user.setAuthenticationFlowType("CUSTOM_AUTH");
  const seen = [];
  return new Promise((resolve, reject) => {
    const callbacks = {
      onSuccess: (session) => resolve({ session, seen }),
      onFailure: (err) => reject(Object.assign(err, { seen })),
      customChallenge: (params) => {
        seen.push(params);
        user.sendCustomChallengeAnswer(answers[params.kind], callbacks);
      },
      mfaRequired: () => reject(new Error("unexpected mfaRequired")),
      totpRequired: () => reject(new Error("unexpected totpRequired")),
      newPasswordRequired: () => reject(new Error("unexpected newPasswordRequired")),
    };
    user.authenticateUser(new AuthenticationDetails({ Username: fx.username, Password: fx.password }), callbacks);
  });
}

try {
  const { session, seen } = await customSignIn({ otp: "424242", question: "rex" });
  ok(seen.length === 2, "two custom rounds after the password", JSON.stringify(seen));
  ok(seen[0]?.kind === "otp" && seen[1]?.question === "First pet?", "the public challenge parameters reach the callback", JSON.stringify(seen));
  ok(!seen.some((p) => "answer" in p), "private challenge parameters stay on the server");
  ok(session.isValid(), "a valid session (ID, access and refresh tokens)");
  const claims = JSON.parse(Buffer.from(session.getIdToken().getJwtToken().split(".")[1], "base64url"));
  ok(claims["cognito:username"] === fx.username, "the ID token names the user");
} catch (e) {
  ok(false, "CUSTOM_AUTH sign-in", `${e.code ?? ""} ${e.message}`);
}
try {
  await customSignIn({ otp: "000000", question: "rex" });
  ok(false, "a wrong one-time code is refused");
} catch (e) {
  ok(e.code === "NotAuthorizedException", "a wrong one-time code is refused (NotAuthorizedException)", `${e.code} ${e.message}`);
}
console.log(`custom_auth.mjs: ${passed} passed, ${failed} failed`);
process.exit(failed ? 1 : 0);
