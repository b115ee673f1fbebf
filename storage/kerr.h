/* kerr.h - the Kafka error codes the storage engine answers with.
 *
 * Storage functions return 0 or a negative errno for I/O failures; batch
 * validation returns one of these (positive) Kafka codes so the protocol
 * layer can put it straight into a ProduceResponse. */
#ifndef SLUICE_KERR_H
#define SLUICE_KERR_H

enum kafka_error {
    KERR_NONE = 0,
    KERR_UNKNOWN_SERVER_ERROR = -1,
    KERR_OFFSET_OUT_OF_RANGE = 1,
    KERR_CORRUPT_MESSAGE = 2,
    KERR_UNKNOWN_TOPIC_OR_PARTITION = 3,
    KERR_INVALID_FETCH_SIZE = 4,
    KERR_LEADER_NOT_AVAILABLE = 5,
    KERR_NOT_LEADER_OR_FOLLOWER = 6,
    KERR_REQUEST_TIMED_OUT = 7,
    KERR_MESSAGE_TOO_LARGE = 10,
    KERR_INVALID_TIMESTAMP = 32,
    KERR_UNSUPPORTED_FOR_MESSAGE_FORMAT = 43,
    KERR_KAFKA_STORAGE_ERROR = 56,
    KERR_INVALID_RECORD = 87,
};

#endif
