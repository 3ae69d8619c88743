// A tiny RFC 6238 TOTP (HMAC-SHA-1, 6 digits, 30-second steps) for the browser tests: what a
// phone's authenticator app computes from the key the enrolment page shows. Node's own crypto;
// checked against RFC 6238 appendix B in totp.test.js.

import { createHmac } from 'node:crypto';

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

/**
 * The bytes of a base32 key (spaces and padding ignored, any case).
 * @param {string} text
 * @returns {Buffer}
 */
export function base32Decode(text) {
  const clean = text.replace(/[\s=]/g, '').toUpperCase();
  let bits = 0;
  let value = 0;
  /** @type {number[]} */
  const out = [];
  for (const ch of clean) {
    const i = BASE32.indexOf(ch);
    if (i < 0) throw new Error(`not base32: ${ch}`);
    value = (value << 5) | i;
    bits += 5;
    if (bits >= 8) {
      out.push((value >>> (bits - 8)) & 0xff);
      bits -= 8;
    }
  }
  return Buffer.from(out);
}

/**
 * The 6-digit code of a base32 key for time step `step` (Unix seconds / 30).
 * @param {string} secret
 * @param {number} step
 */
export function totpAt(secret, step) {
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(step));
  const mac = createHmac('sha1', base32Decode(secret)).update(counter).digest();
  const offset = mac[mac.length - 1] & 0x0f;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return String(value).padStart(6, '0');
}

/** The current time step. */
export function stepNow() {
  return Math.floor(Date.now() / 1000 / 30);
}

/** @type {Map<string, {secret: string, lastStep: number}>} enrolled keys by server URL and email */
const enrolled = new Map();

/**
 * Remembers a key enrolled for `email` on the server at `baseURL`, and the step its first
 * code used.
 * @param {string} baseURL @param {string} email @param {string} secret @param {number} step
 */
export function rememberKey(baseURL, email, secret, step) {
  enrolled.set(`${baseURL} ${email}`, { secret, lastStep: step });
}

/**
 * A code the server has not seen for this account: the current step or the next (the server
 * accepts one step of skew), waiting for a new step when both are used.
 * @param {string} baseURL @param {string} email
 * @returns {Promise<string>}
 */
export async function nextCode(baseURL, email) {
  const key = enrolled.get(`${baseURL} ${email}`);
  if (!key) throw new Error(`${email} has a second factor the test did not enrol`);
  for (;;) {
    const now = stepNow();
    const step = [now, now + 1].find((s) => s > key.lastStep);
    if (step !== undefined) {
      key.lastStep = step;
      return totpAt(key.secret, step);
    }
    await new Promise((resolve) => setTimeout(resolve, 2_000));
  }
}
