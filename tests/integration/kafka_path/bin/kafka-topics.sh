#!/usr/bin/env bash
# kafka-topics.sh for librdkafka's own test suite (tests/integration/
# rdkafka_tests.py sets KAFKA_PATH to the folder above this one): the
# subset of Apache Kafka's kafka-topics.sh that its tests call, done with
# the sluice CLI (CreateTopics / DeleteTopics through librdkafka's Admin
# API). Anything else is refused with a message and exit status 2.
#   kafka-topics.sh --bootstrap-server H:P --create --topic T
#                   [--partitions N] [--replication-factor R] [--config K=V]...
#   kafka-topics.sh --bootstrap-server H:P --delete --topic T
set -euo pipefail
cli=${SLUICE_CLI:?SLUICE_CLI must name the sluice CLI}
bootstrap="" topic="" action="" partitions="" args=()
while [ $# -gt 0 ]; do
  case "$1" in
    --bootstrap-server) bootstrap=$2; shift 2 ;;
    --create) action=create; shift ;;
    --delete) action=delete; shift ;;
    --topic) topic=$2; shift 2 ;;
    --partitions) partitions=$2; shift 2 ;;
    --replication-factor) args+=(--replication-factor "$2"); shift 2 ;;
    --config) args+=(--config "$2"); shift 2 ;;
    *) echo "kafka-topics.sh (sluice shim): unsupported argument '$1'" >&2; exit 2 ;;
  esac
done
[ -n "$bootstrap" ] && [ -n "$topic" ] && [ -n "$action" ] ||
  { echo "kafka-topics.sh (sluice shim): needs --bootstrap-server, --topic and --create or --delete" >&2; exit 2; }
if [ "$action" = create ]; then
  [ -z "$partitions" ] || args+=(--partitions "$partitions")
  exec "$cli" --bootstrap "$bootstrap" topics create "$topic" "${args[@]}"
fi
exec "$cli" --bootstrap "$bootstrap" topics delete "$topic"
