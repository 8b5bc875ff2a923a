// kms-client.mjs: the AWS SDK for JavaScript v3 (@aws-sdk/client-kms) as
// cmd/kmsconform/clients_test.go drives it, one KMS call per line.
//
// Configuration is the SDK's own, from the environment, as an application
// would have it: AWS_ENDPOINT_URL_KMS, AWS_REGION, AWS_ACCESS_KEY_ID,
// AWS_SECRET_ACCESS_KEY, AWS_MAX_ATTEMPTS.
//
// stdin, one JSON object a line:  {"op": "Encrypt", "input": {...}}
// stdout, one JSON object a line: {"output": {...}}
//                             or {"error": {"code", "class", "fault", "status", "message"}}
// The first line out is {"ready": {"sdk", "region"}}; every answer also
// carries "sentTo", the URL the SDK sent the request to.
//
// Blob members (Plaintext, CiphertextBlob) are base64 both ways; dates are
// ISO 8601. "code" is err.name, the name a JavaScript application tests;
// "class" is the constructor the SDK deserialized the error into (the
// modeled exception class, or KMSServiceException for a code the SDK's
// model does not know).
import { createInterface } from "node:readline";
import { createRequire } from "node:module";
import * as kms from "@aws-sdk/client-kms";

const blobMembers = new Set(["Plaintext", "CiphertextBlob"]);

function toWire(input) {
  const out = {};
  for (const [k, v] of Object.entries(input ?? {})) {
    out[k] = blobMembers.has(k) ? Uint8Array.from(Buffer.from(v, "base64")) : v;
  }
  return out;
}

function fromSDK(v) {
  if (v instanceof Uint8Array) return Buffer.from(v).toString("base64");
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(fromSDK);
  if (v && typeof v === "object") {
    const out = {};
    for (const [k, x] of Object.entries(v)) {
      if (k !== "$metadata") out[k] = fromSDK(x);
    }
    return out;
  }
  return v;
}

const client = new kms.KMSClient({});
// Where the SDK sent the last request: the test checks that the SDK's own
// endpoint resolution (AWS_ENDPOINT_URL_KMS) reached the emulator.
let sentTo = "";
client.middlewareStack.add(
  (next) => async (args) => {
    const r = args.request;
    sentTo = `${r.protocol}//${r.hostname}${r.port ? ":" + r.port : ""}${r.path}`;
    return next(args);
  },
  { step: "finalizeRequest", name: "kmsconformSentTo" },
);
const sdk = createRequire(import.meta.url)("@aws-sdk/client-kms/package.json").version;
const write = (o) => process.stdout.write(JSON.stringify(o) + "\n");
write({ ready: { sdk, region: await client.config.region() } });

// Calls run one at a time, in order: the test's life is a sequence.
const lines = createInterface({ input: process.stdin, crlfDelay: Infinity });
for await (const line of lines) {
  if (!line.trim()) continue;
  let req;
  try {
    req = JSON.parse(line);
  } catch (e) {
    write({ error: { code: "BadRequestLine", class: "", message: String(e) } });
    continue;
  }
  const Command = kms[`${req.op}Command`];
  if (typeof Command !== "function") {
    write({ error: { code: "UnknownOperation", class: "", message: `no ${req.op}Command in @aws-sdk/client-kms` } });
    continue;
  }
  try {
    sentTo = "";
    const output = fromSDK(await client.send(new Command(toWire(req.input))));
    write({ output, sentTo });
  } catch (err) {
    write({
      error: {
        code: err.name,
        class: err.constructor?.name ?? "",
        fault: err.$fault ?? "",
        status: err.$metadata?.httpStatusCode ?? 0,
        message: err.message ?? String(err),
      },
      sentTo,
    });
  }
}
