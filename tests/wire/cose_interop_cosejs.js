// Runs under an independent COSE implementation (cose-js on node), not under our code.
// The job format is described in cosekit.py: JSON on stdin, JSON on stdout.
'use strict';

const cose = require('cose-js');
const cbor = require('cbor');
const crypto = require('crypto');

const b64url = (text) => Buffer.from(text, 'base64url');

async function verify (job) {
  const jwk = crypto.createPublicKey(job.public_pem).export({ format: 'jwk' });
  try {
    const envelope = Buffer.from(job.envelope, 'hex');
    // cose-js checks the kid of COSE_Sign (multi-signer) only; the contract wants it protected and equal to the key's.
    const decoded = cbor.decodeFirstSync(envelope);
    const message = decoded instanceof cbor.Tagged ? decoded.value : decoded;
    const protectedMap = message[0].length ? cbor.decodeFirstSync(message[0]) : new Map();
    const kid = protectedMap.get(4);
    if (!Buffer.isBuffer(kid) || !kid.equals(Buffer.from(job.kid, 'utf8'))) {
      return { ok: false, error: 'protected kid is not the key\'s' };
    }
    const payload = await cose.sign.verify(envelope, { key: { x: b64url(jwk.x), y: b64url(jwk.y) } });
    return { ok: true, payload: payload.toString('hex') };
  } catch (err) {
    return { ok: false, error: String(err) };
  }
}

async function main () {
  const chunks = [];
  for await (const chunk of process.stdin) chunks.push(chunk);
  const job = JSON.parse(Buffer.concat(chunks).toString('utf8'));
  const results = [];
  for (const item of job.verify) results.push(await verify(item));
  const jwk = crypto.createPrivateKey(job.sign.private_pem).export({ format: 'jwk' });
  // alg and kid protected (labels 1 and 4), an empty unprotected map, tag 18: what the contract asks for.
  const signed = await cose.sign.create(
    { p: { alg: 'ES256', kid: job.sign.kid }, u: {} },
    Buffer.from(job.sign.payload, 'hex'),
    { key: { d: b64url(jwk.d) } }
  );
  process.stdout.write(JSON.stringify({ verify: results, signed: signed.toString('hex') }));
}

main().catch((err) => {
  process.stderr.write(String(err && err.stack ? err.stack : err) + '\n');
  process.exit(1);
});
