// kafkajs 2.2.4 against sluice. Run by run_client.py, which starts the broker
// and sets SLUICE_BOOTSTRAP:
//   /usr/bin/python3 run_client.py -- node test_kafkajs.js
// Prints cmocka-style lines. Cases:
//   kafkajs_admin          createTopics / listTopics / fetchTopicMetadata / deleteTopics
//   kafkajs_produce_<c>    producer.send (acks -1) of N keyed messages with headers,
//                          codec none and gzip (the only codec kafkajs has built in);
//                          base offsets contiguous per partition; admin.fetchTopicOffsets
//   kafkajs_readback_<c>   the same messages read back with kcat, byte-exact, in order
//   kafkajs_consumer_group consumer.subscribe + run (needs consumer groups: skipped,
//                          with a notice, while the broker does not advertise
//                          FindCoordinator/JoinGroup/SyncGroup/Heartbeat/LeaveGroup)
'use strict'

const path = require('path')
const net = require('net')
const { spawnSync } = require('child_process')
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, CompressionTypes, logLevel } = require(path.join(__dirname, 'node_modules', 'kafkajs'))

const BOOTSTRAP = process.env.SLUICE_BOOTSTRAP
const N = parseInt(process.env.SLUICE_IT_KJS_N || '20000', 10)
const BATCH = 500
const PARTITIONS = 3

if (!BOOTSTRAP) {
  console.error('SLUICE_BOOTSTRAP is not set (run through run_client.py)')
  process.exit(2)
}

const kafka = new Kafka({
  clientId: 'sluice-it-kafkajs',
  brokers: [BOOTSTRAP],
  connectionTimeout: 10000,
  requestTimeout: 30000,
  logLevel: logLevel.WARN,
  retry: { retries: 5 }
})

function note (msg) { console.log('    ' + msg) }

class Failure extends Error {}
function check (cond, msg) { if (!cond) throw new Failure(msg) }
function expectEq (got, want, what) {
  const g = JSON.stringify(got); const w = JSON.stringify(want)
  if (g !== w) throw new Failure(`${what}: expected ${w.slice(0, 400)}, got ${g.slice(0, 400)}`)
}
function withTimeout (p, ms, what) {
  let t
  return Promise.race([p, new Promise((resolve, reject) => {
    t = setTimeout(() => reject(new Failure(`${what}: no result within ${ms / 1000}s`)), ms)
  })]).finally(() => clearTimeout(t))
}

const keyOf = (topic, i) => `${topic}-key-${i}`
const valueOf = (topic, i) => `${topic}-value-${i}-` + 'abcdefghij'.repeat(i % 37) + `|${i % 7}`

// ---------------------------------------------------------------------------
// A raw ApiVersions v0 request, to know whether the broker has consumer groups.
function apiVersions () {
  const [host, port] = [BOOTSTRAP.slice(0, BOOTSTRAP.lastIndexOf(':')), +BOOTSTRAP.slice(BOOTSTRAP.lastIndexOf(':') + 1)]
  return withTimeout(new Promise((resolve, reject) => {
    const sock = net.connect(port, host)
    const clientId = Buffer.from('kjs-probe')
    const req = Buffer.alloc(4 + 2 + 2 + 4 + 2 + clientId.length)
    let o = 0
    o = req.writeInt32BE(req.length - 4, o); o = req.writeInt16BE(18, o); o = req.writeInt16BE(0, o)
    o = req.writeInt32BE(4242, o); o = req.writeInt16BE(clientId.length, o); clientId.copy(req, o)
    let buf = Buffer.alloc(0)
    sock.on('connect', () => sock.write(req))
    sock.on('error', reject)
    sock.on('data', d => {
      buf = Buffer.concat([buf, d])
      if (buf.length < 4 || buf.length < 4 + buf.readInt32BE(0)) return
      sock.destroy()
      const body = buf.subarray(8)
      const err = body.readInt16BE(0)
      const n = body.readInt32BE(2)
      const apis = {}
      for (let i = 0; i < n; i++) {
        const at = 6 + i * 6
        apis[body.readInt16BE(at)] = [body.readInt16BE(at + 2), body.readInt16BE(at + 4)]
      }
      resolve({ err, apis })
    })
  }), 15000, 'ApiVersions probe')
}

// ---------------------------------------------------------------------------

async function testAdmin () {
  const admin = kafka.admin()
  await admin.connect()
  try {
    const topic = 'kjs-admin'
    const created = await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], waitForLeaders: true, timeout: 30000 })
    expectEq(created, true, 'createTopics result')
    const topics = await admin.listTopics()
    check(topics.includes(topic), `${topic} missing from listTopics: ${topics}`)
    const md = await admin.fetchTopicMetadata({ topics: [topic] })
    expectEq(md.topics[0].partitions.map(p => p.partitionId).sort(), [0, 1, 2, 3], 'partitions in metadata')
    const again = await admin.createTopics({ topics: [{ topic, numPartitions: 4 }], timeout: 30000 })
    expectEq(again, false, 'createTopics of an existing topic (false = already there)')
    await admin.deleteTopics({ topics: [topic], timeout: 30000 })
    let gone = false
    for (let i = 0; i < 60 && !gone; i++) {
      gone = !(await admin.listTopics()).includes(topic)
      if (!gone) await new Promise(resolve => setTimeout(resolve, 500)) // poll: no event to wait on
    }
    check(gone, `${topic} still listed 30s after deleteTopics`)
  } finally {
    await admin.disconnect()
  }
}

const produced = {} // topic -> array of per-partition arrays of message indexes

async function testProduce (codec) {
  const topic = `kjs-roundtrip-${codec}`
  const admin = kafka.admin()
  await admin.connect()
  const producer = kafka.producer({ allowAutoTopicCreation: false, idempotent: false })
  await producer.connect()
  try {
    const ok = await admin.createTopics({ topics: [{ topic, numPartitions: PARTITIONS }], waitForLeaders: true, timeout: 30000 })
    expectEq(ok, true, `createTopics ${topic}`)
    const parts = Array.from({ length: PARTITIONS }, () => [])
    const t0 = Date.now()
    for (let start = 0; start < N; start += BATCH) {
      const messages = []
      const end = Math.min(N, start + BATCH)
      for (let i = start; i < end; i++) {
        messages.push({ key: keyOf(topic, i), value: valueOf(topic, i), partition: i % PARTITIONS, headers: { idx: String(i) } })
      }
      const res = await withTimeout(producer.send({
        topic, messages, acks: -1, timeout: 30000,
        compression: codec === 'gzip' ? CompressionTypes.GZIP : CompressionTypes.None
      }), 60000, `send of messages ${start}..${end - 1}`)
      for (const r of res) {
        expectEq(r.errorCode, 0, `send error code, partition ${r.partition}`)
        const p = r.partition
        expectEq(String(r.baseOffset), String(parts[p].length), `base offset of the batch to partition ${p} (contiguous)`)
      }
      for (let i = start; i < end; i++) parts[i % PARTITIONS].push(i)
    }
    note(`${topic}: produced ${N} in ${Date.now() - t0} ms`)
    produced[topic] = parts
    const offs = await admin.fetchTopicOffsets(topic)
    expectEq(offs.map(o => [o.partition, o.low, o.high]).sort((a, b) => a[0] - b[0]),
      parts.map((l, p) => [p, '0', String(l.length)]), `fetchTopicOffsets(${topic}) [partition, low, high]`)
  } finally {
    await producer.disconnect()
    await admin.disconnect()
  }
}

function testReadback (codec) {
  const topic = `kjs-roundtrip-${codec}`
  const parts = produced[topic]
  check(parts, `needs kafkajs_produce_${codec}`)
  for (let p = 0; p < PARTITIONS; p++) {
    const r = spawnSync('kcat', ['-b', BOOTSTRAP, '-m', '30', '-C', '-t', topic, '-p', String(p), '-e', '-o', 'beginning', '-q',
      '-f', '%o|%k|%s|%h\\n'], { timeout: 120000, maxBuffer: 1 << 30 })
    check(r.status === 0, `kcat -C ${topic} -p ${p}: status ${r.status} ${r.error || ''} ${String(r.stderr).slice(-2000)}`)
    const want = parts[p].map((i, o) => `${o}|${keyOf(topic, i)}|${valueOf(topic, i)}|idx=${i}\n`).join('')
    const got = r.stdout.toString()
    if (got !== want) {
      let k = 0
      while (k < got.length && got[k] === want[k]) k++
      const gs = got.lastIndexOf('\n', k) + 1; const ws = want.lastIndexOf('\n', k) + 1
      throw new Failure(`${topic} partition ${p}: read back differs at char ${k}: expected line ${JSON.stringify(want.slice(ws, want.indexOf('\n', ws)))}, got ${JSON.stringify(got.slice(gs, got.indexOf('\n', gs)))}`)
    }
  }
}

async function testConsumerGroup () {
  const { apis } = await apiVersions()
  const need = { 10: 'FindCoordinator', 11: 'JoinGroup', 12: 'Heartbeat', 13: 'LeaveGroup', 14: 'SyncGroup', 8: 'OffsetCommit', 9: 'OffsetFetch' }
  const missing = Object.keys(need).filter(k => !(k in apis)).map(k => need[k])
  if (missing.length) return { skip: `the broker does not advertise ${missing.join(', ')}: consumer groups not implemented yet` }
  const topic = 'kjs-roundtrip-none'
  const parts = produced[topic]
  check(parts, 'needs kafkajs_produce_none')
  const consumer = kafka.consumer({ groupId: 'kjs-it-group', sessionTimeout: 30000, heartbeatInterval: 3000, maxWaitTimeInMs: 500 })
  const next = Array(PARTITIONS).fill(0)
  let got = 0
  let bad = null
  let finish
  const done = new Promise(resolve => { finish = resolve })
  await consumer.connect()
  try {
    await consumer.subscribe({ topic, fromBeginning: true })
    await consumer.run({
      autoCommit: true,
      eachMessage: async ({ partition, message }) => {
        if (bad) return
        const o = Number(message.offset)
        const i = parts[partition][o]
        if (o !== next[partition]) bad = `partition ${partition}: offset ${o}, expected ${next[partition]}`
        else if (message.key.toString() !== keyOf(topic, i) || message.value.toString() !== valueOf(topic, i) ||
                 String(message.headers.idx) !== String(i)) bad = `partition ${partition} offset ${o}: wrong content`
        next[partition] = o + 1
        got++
        if (bad || got === N) finish()
      }
    })
    await withTimeout(done, 120000, `group consumer reading ${N} messages (read ${got})`)
    check(!bad, bad)
    expectEq(got, N, 'messages consumed')
  } finally {
    await consumer.disconnect()
  }
  return {}
}

async function main () {
  const version = require(path.join(__dirname, 'node_modules', 'kafkajs', 'package.json')).version
  note(`kafkajs ${version}, node ${process.version}, bootstrap ${BOOTSTRAP}, ${N} messages per codec`)
  const cases = [
    ['kafkajs_version', async () => expectEq(version, '2.2.4', 'kafkajs version')],
    ['kafkajs_admin', testAdmin],
    ['kafkajs_produce_none', () => testProduce('none')],
    ['kafkajs_readback_none', async () => testReadback('none')],
    ['kafkajs_produce_gzip', () => testProduce('gzip')],
    ['kafkajs_readback_gzip', async () => testReadback('gzip')],
    ['kafkajs_consumer_group', testConsumerGroup]
  ]
  const failed = []
  let skipped = 0
  console.log(`[==========] Running ${cases.length} test(s).`)
  for (const [name, fn] of cases) {
    console.log(`[ RUN      ] ${name}`)
    const t0 = Date.now()
    try {
      const r = await withTimeout(Promise.resolve().then(fn), 300000, name)
      if (r && r.skip) {
        note(`SKIPPED: ${r.skip}`)
        console.log(`[  SKIPPED ] ${name}`)
        skipped++
      } else {
        console.log(`[       OK ] ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`)
      }
    } catch (e) {
      for (const line of String(e instanceof Failure ? e.message : (e && e.stack) || e).split('\n')) note(line)
      console.log(`[  FAILED  ] ${name} (${((Date.now() - t0) / 1000).toFixed(1)}s)`)
      failed.push(name)
    }
  }
  console.log(`[==========] ${cases.length} test(s) run.`)
  console.log(`[  PASSED  ] ${cases.length - failed.length - skipped} test(s).`)
  if (skipped) console.log(`[  SKIPPED ] ${skipped} test(s).`)
  if (failed.length) {
    console.log(`[  FAILED  ] ${failed.length} test(s), listed below:`)
    for (const n of failed) console.log(`[  FAILED  ] ${n}`)
  }
  return failed.length ? 1 : 0
}

main().then(rc => process.exit(rc), e => { console.error(e); process.exit(1) })
