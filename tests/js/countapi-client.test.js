// Every countapi-js method against counter, with the statuses its README documents.
'use strict';
const chai = require('chai');
const chaiAsPromised = require('chai-as-promised');
const uuidv4 = require('uuid/v4');
const { browserHeaders } = require('./redirect-fetch');
const countapi = require('countapi-js');

chai.use(chaiAsPromised);
const { expect } = chai;

describe('countapi-js against counter', function () {
  this.timeout(10000);
  const ns = `ns-${uuidv4().slice(0, 8)}`;

  afterEach(() => {
    delete browserHeaders.Origin;
    delete browserHeaders.Referer;
  });

  it('hit creates a key, then counts', async () => {
    const first = await countapi.hit(ns, 'hits');
    expect(first).to.deep.equal({ status: 200, path: `${ns}/hits`, value: 1 });
    const second = await countapi.hit(ns, 'hits');
    expect(second.value).to.equal(2);
  });

  it('hit and get in the default namespace', async () => {
    const key = uuidv4();
    expect(await countapi.hit(key)).to.deep.equal({ status: 200, path: `default/${key}`, value: 1 });
    expect(await countapi.get(key)).to.deep.equal({ status: 200, path: `default/${key}`, value: 1 });
  });

  it('get of a missing key resolves with status 404', async () => {
    const result = await countapi.get(ns, 'never-created');
    expect(result).to.deep.equal({ status: 404, path: `${ns}/never-created`, value: null });
  });

  it('create with defaults', async () => {
    const result = await countapi.create();
    expect(result.status).to.equal(200);
    expect(result.namespace).to.equal('default');
    expect(result.key).to.match(/^[0-9a-f-]{36}$/);
    expect(result.value).to.equal(0);
    expect(result.path).to.equal(`default/${result.key}`);
  });

  it('create with every option, then info reports them', async () => {
    const created = await countapi.create({
      namespace: ns, key: 'options', value: 10, enable_reset: true,
      update_lowerbound: -2, update_upperbound: 5,
    });
    expect(created).to.deep.equal({ status: 200, path: `${ns}/options`, namespace: ns, key: 'options', value: 10 });
    const info = await countapi.info(ns, 'options');
    expect(info).to.include({
      status: 200, path: `${ns}/options`, namespace: ns, key: 'options',
      update_lowerbound: -2, update_upperbound: 5, enable_reset: true, value: 10,
    });
    expect(info.ttl).to.be.a('number').within(15778700000, 15778800000);
    expect(info.created).to.be.a('number').above(1700000000000);
  });

  it('create of an existing key rejects (409 is not a CountAPI client status)', async () => {
    await countapi.create({ namespace: ns, key: 'twice' });
    await expect(countapi.create({ namespace: ns, key: 'twice' })).to.be.rejectedWith('Response from server: 409');
  });

  it('update within bounds, out of bounds (403, unchanged) and missing (404)', async () => {
    await countapi.create({ namespace: ns, key: 'bounded', value: 0, update_lowerbound: -3, update_upperbound: 3 });
    expect(await countapi.update(ns, 'bounded', 3)).to.deep.equal({ status: 200, path: `${ns}/bounded`, value: 3 });
    expect(await countapi.update(ns, 'bounded', -3)).to.include({ status: 200, value: 0 });
    expect(await countapi.update(ns, 'bounded', 4)).to.include({ status: 403, value: 0 });
    expect(await countapi.update(ns, 'absent-key', 1)).to.include({ status: 404, value: null });
  });

  it('set with reset enabled, disabled (403, old value kept) and missing (404)', async () => {
    await countapi.create({ namespace: ns, key: 'resettable', value: 7, enable_reset: true });
    await countapi.create({ namespace: ns, key: 'locked', value: 8 });
    expect(await countapi.set(ns, 'resettable', 42)).to.deep.equal({ status: 200, path: `${ns}/resettable`, old_value: 7, value: 42 });
    expect(await countapi.set(ns, 'locked', 1)).to.include({ status: 403, old_value: 8, value: 8 });
    expect(await countapi.set(ns, 'absent-key', 1)).to.include({ status: 404, old_value: null, value: null });
  });

  it('info of a missing key resolves with status 404 and null fields', async () => {
    const info = await countapi.info(ns, 'absent-key');
    expect(info.status).to.equal(404);
    expect(info.value).to.equal(null);
    expect(info.ttl).to.equal(null);
  });

  it('stats', async () => {
    const stats = await countapi.stats();
    expect(stats.status).to.equal(200);
    for (const field of ['keys_created', 'keys_updated', 'requests']) {
      expect(stats[field]).to.be.a('number');
    }
    expect(stats.version).to.be.a('string');
  });

  it('visits and event use the page host and path, as in a browser', async () => {
    browserHeaders.Origin = 'https://shop.example.com';
    browserHeaders.Referer = 'https://shop.example.com/products/blue-shoe';
    expect(await countapi.visits()).to.include({ status: 200, path: 'shop.example.com/productsblue-shoe', value: 1 });
    expect(await countapi.visits('landing')).to.include({ status: 200, path: 'shop.example.com/landing' });
    expect(await countapi.event('buy-button')).to.include({ status: 200, path: 'shop.example.com/buy-button' });
  });

  it('server-side 400s reject the promise with the error text', async () => {
    await expect(countapi.update(ns, 'bounded', 1.5)).to.be.rejectedWith('amount must be an integer');
    await expect(countapi.create({ key: 'aa' })).to.be.rejectedWith('Malformed Namespace/Key');
    await expect(countapi.create({ update_upperbound: -1 })).to.be.rejectedWith('update_upperbound must be positive');
    await expect(countapi.create({ update_lowerbound: 1 })).to.be.rejectedWith('update_lowerbound must be negative');
    await expect(countapi.create({ value: 2 ** 64 })).to.be.rejectedWith('value must be an integer');
  });

  it('client-side validation still applies before any request', async () => {
    await expect(countapi.hit('aa')).to.be.rejectedWith('Key must match');
    await expect(countapi.get('aa', 'valid-key')).to.be.rejectedWith('Namespace must match');
  });
});
