import { describe, expect, it } from 'vitest';
import { redactQuery, redactUrl, redactUrlsInText } from './redact.js';

describe('redactUrl', () => {
  it('masks the password of user:pass@ and keeps the rest of the URL', () => {
    expect(redactUrl('https://user:pa55word@proxy.example:8443/ziina/api')).toBe('https://user:****@proxy.example:8443/ziina/api');
  });

  it('masks a lone user name (often a token: https://TOKEN@host)', () => {
    expect(redactUrl('https://ghp_abcdef123456@proxy.example/api')).toBe('https://****@proxy.example/api');
  });

  it('masks credential-looking query values, whatever their case or prefix, and keeps the others', () => {
    const out = redactUrl('https://h.example/p?access_token=t1&api_key=k1&X-Amz-Signature=s1&client_secret=c1&password=p1&sig=s2&region=eu&page=2');
    expect(out).toBe('https://h.example/p?access_token=****&api_key=****&X-Amz-Signature=****&client_secret=****&password=****&sig=****&region=eu&page=2');
    for (const s of ['t1', 'k1', 's1', 'c1', 'p1', 's2']) expect(out).not.toContain(`=${s}`);
  });

  it('leaves a URL without credentials exactly as written', () => {
    for (const u of ['http://127.0.0.1:4010/ziina/api', 'https://api-v2.ziina.com/api/', 'https://h.example/p?page=2#top']) expect(redactUrl(u)).toBe(u);
  });

  it('postgres URLs keep the user and hide the password', () => {
    expect(redactUrl('postgres://app:s3cret@db.internal:5432/refundhub')).toBe('postgres://app:****@db.internal:5432/refundhub');
  });

  it('a value that is not a URL still loses anything shaped like credentials', () => {
    const out = redactUrl('https://user:pa55word@[not a url');
    expect(out).not.toContain('pa55word');
  });
});

describe('redactQuery and redactUrlsInText', () => {
  it('redactQuery works on a search string with or without "?"', () => {
    expect(redactQuery('?token=abc&id=1')).toBe('?token=****&id=1');
    expect(redactQuery('token=abc')).toBe('token=****');
    expect(redactQuery('')).toBe('');
  });

  it('masks every URL inside a message', () => {
    const msg = 'connect to https://u:pw1@a.example/x?key=k9 failed, then http://tok@b.example/y';
    const out = redactUrlsInText(msg);
    expect(out).toBe('connect to https://u:****@a.example/x?key=**** failed, then http://****@b.example/y');
  });
});
