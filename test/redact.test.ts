import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { redact, redactUrl, splitQuery, urlSecrets } from '../src/redact.js';

describe('redact', () => {
  it('GIVEN secrets THEN every occurrence of each is ***, and an empty secret hides nothing', () => {
    assert.equal(redact('s3cret at postgres://u:s3cret@db/x, again s3cret', ['postgres://u:s3cret@db/x', 's3cret', '']), '*** at ***, again ***');
  });

  const urls: Array<[string, string, string[]]> = [
    ['a password', 'http://kollect:s3cret@gateway:9091', ['s3cret']],
    ['a percent-encoded password', 'http://kollect:p%40ss%20w@gateway:9091', ['p%40ss%20w', 'p@ss w']],
    ['a stray % in the password', 'postgres://u:50%zz@db/x', ['50%zz']],
    ['a token in the query', 'https://git.example/r.git?access_token=glpat-x%2By', ['glpat-x%2By', 'glpat-x+y']],
    ['several query values, one without a name', 'http://g:9091/?sig=a+b&flag&empty=', ['a+b', 'a b', 'flag']],
    ['no password', 'http://kollect@gateway:9091', []],
    ['no credentials', 'http://gateway:9091/metrics', []],
    ['a URL that does not parse', 'http://kollect:s3cret@gate way:9091', ['http://kollect:s3cret@gate way:9091']],
  ];
  for (const [what, url, secrets] of urls) {
    it(`GIVEN a URL with ${what} THEN its secrets are ${JSON.stringify(secrets)}`, () => {
      assert.deepEqual(urlSecrets(url), secrets);
    });
  }

  it('GIVEN a URL and a message that quotes its password decoded THEN both show with the password hidden', () => {
    const url = 'http://kollect:p%40ss@gateway:9091';
    const secrets = urlSecrets(url);
    assert.equal(redact(url, secrets), 'http://kollect:***@gateway:9091');
    assert.equal(redact('refused kollect:p@ss', secrets), 'refused kollect:***');
  });

  const shown: Array<[string, string, string]> = [
    ['a password', 'http://kollect:s3cret@gateway:9091', 'http://kollect:***@gateway:9091'],
    [
      'query values and a fragment',
      'https://h:8443/r.git?access_token=t0k&X-Amz-Signature=abc&flag#frag',
      'https://h:8443/r.git?access_token=***&X-Amz-Signature=***&***#***',
    ],
    ['no credentials', 'http://gateway:9091', 'http://gateway:9091'],
    ['a URL that does not parse', 'http://kollect:s3cret@gate way:9091?token=t', '***'],
  ];
  for (const [what, url, expected] of shown) {
    it(`GIVEN a URL with ${what} THEN it shows as ${expected}`, () => {
      assert.equal(redactUrl(url), expected);
    });
  }

  it('GIVEN a URL with a query THEN splitQuery gives the URL to store without it and the query to send', () => {
    assert.deepEqual(splitQuery('https://h/r.git?access_token=t0k&x=1#f'), { url: 'https://h/r.git', query: 'access_token=t0k&x=1' });
    assert.deepEqual(splitQuery('https://h/r.git'), { url: 'https://h/r.git', query: '' });
  });
});
