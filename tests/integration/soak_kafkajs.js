// soak_kafkajs.js - test_soak.py's kafkajs producer: sends batches of 100
// records (acks -1) to TOPIC until stdin closes, then prints every value the
// broker acknowledged, one per line ("acked VALUE"), and "done N" with the
// count it sent.  node soak_kafkajs.js BOOTSTRAP TOPIC
'use strict'

const path = require('path')
process.env.KAFKAJS_NO_PARTITIONER_WARNING = '1'
const { Kafka, logLevel } = require(path.join(__dirname, 'node_modules', 'kafkajs'))

const [bootstrap, topic] = process.argv.slice(2)
const kafka = new Kafka({
  clientId: 'soak-kafkajs',
  brokers: [bootstrap],
  connectionTimeout: 10000,
  requestTimeout: 30000,
  logLevel: logLevel.NOTHING,
  retry: { retries: 8 }
})

let stopping = false
process.stdin.on('end', () => { stopping = true })
process.stdin.on('data', () => {})

async function main () {
  const producer = kafka.producer()
  for (let tries = 1; ; tries++) { // a storm may refuse the first connections
    try {
      await producer.connect()
      break
    } catch (e) {
      if (tries === 5) throw e
    }
  }
  const acked = []
  let sent = 0
  for (let n = 0; !stopping; n++) {
    const messages = []
    for (let i = 0; i < 100; i++) messages.push({ value: `kjs-${n}-${i}` })
    sent += messages.length
    try {
      await producer.send({ topic, acks: -1, messages })
      for (const m of messages) acked.push(m.value)
    } catch (e) {
      // not acked: not counted (a storm may refuse a connection meanwhile)
    }
  }
  await producer.disconnect()
  for (const v of acked) process.stdout.write(`acked ${v}\n`)
  process.stdout.write(`done ${sent}\n`)
}

main().catch((e) => { console.error(e); process.exit(1) })
