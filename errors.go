package ledgerless

import "errors"

// Sentinel errors, one per RocketMQ controller response condition. Services
// wrap them with context; handlers map them to HTTP problems in one place.
var (
	ErrFencedMasterEpoch        = errors.New("fenced master epoch")
	ErrFencedSyncStateSetEpoch  = errors.New("fenced sync state set epoch")
	ErrInvalidMaster            = errors.New("invalid master")
	ErrInvalidReplicas          = errors.New("invalid replicas")
	ErrMasterNotAvailable       = errors.New("master not available")
	ErrInvalidRequest           = errors.New("invalid request")
	ErrBrokerNotAlive           = errors.New("broker not alive")
	ErrBrokerMetadataNotExist   = errors.New("broker metadata does not exist")
	ErrInvalidCleanBrokerMeta   = errors.New("invalid clean broker metadata")
	ErrBrokerNeedToBeRegistered = errors.New("broker needs to be registered")
	ErrMasterStillExist         = errors.New("master still exists")
	ErrElectMasterFailed        = errors.New("elect master failed")
	ErrAlterSyncStateSetFailed  = errors.New("alter sync state set failed")
	ErrBrokerIDInvalid          = errors.New("broker id invalid")
	ErrUnavailable              = errors.New("etcd unavailable")
	// ErrPreconditionFailed: a write conditional on a version of what it
	// changes (REST's If-Match) found another version.
	ErrPreconditionFailed = errors.New("precondition failed")
)

// Limits a replica enforces so that no client can make it hold without
// bound; they are ledgerless's own, not RocketMQ conditions.
var (
	ErrTooManyBrokers   = errors.New("too many brokers in the group")
	ErrTooManyLongPolls = errors.New("too many long polls")
)

// Refused callers, with authentication on: handlers answer 401 and 403.
var (
	// ErrUnauthenticated: no credentials, or none that the replica knows.
	ErrUnauthenticated = errors.New("unauthenticated")
	// ErrForbidden: a known caller whose role does not allow the call.
	ErrForbidden = errors.New("forbidden")
)
