package ledgerless

import (
	"context"
	"errors"
)

// Condition is one controller condition as both front ends name it: the
// sentinel error the use cases wrap, RocketMQ's name for it and the number
// RocketMQ's remoting protocol answers with. REST carries the name and the
// number in its problem details; the remoting protocol answers the number.
type Condition struct {
	Err      error
	Code     string
	RocketMQ int
}

// RocketMQ response codes that are not controller conditions.
const (
	RocketMQSuccess          = 0
	RocketMQSystemError      = 1
	RocketMQSystemBusy       = 2
	RocketMQNotSupported     = 3
	RocketMQNoPermission     = 16
	RocketMQInvalidRequest   = 2005
	RocketMQMetadataNotExist = 2008
)

// Conditions is the condition table, most specific first.
var Conditions = []Condition{
	{ErrFencedMasterEpoch, "FENCED_MASTER_EPOCH", 2000},
	{ErrFencedSyncStateSetEpoch, "FENCED_SYNC_STATE_SET_EPOCH", 2001},
	{ErrInvalidMaster, "INVALID_MASTER", 2002},
	{ErrInvalidReplicas, "INVALID_REPLICAS", 2003},
	{ErrMasterNotAvailable, "MASTER_NOT_AVAILABLE", 2004},
	{ErrInvalidRequest, "INVALID_REQUEST", RocketMQInvalidRequest},
	{ErrBrokerNotAlive, "BROKER_NOT_ALIVE", 2006},
	{ErrBrokerMetadataNotExist, "BROKER_METADATA_NOT_EXIST", RocketMQMetadataNotExist},
	{ErrInvalidCleanBrokerMeta, "INVALID_CLEAN_BROKER_METADATA", 2009},
	{ErrBrokerNeedToBeRegistered, "BROKER_NEED_TO_BE_REGISTERED", 2010},
	{ErrMasterStillExist, "MASTER_STILL_EXIST", 2011},
	{ErrElectMasterFailed, "ELECT_MASTER_FAILED", 2012},
	{ErrAlterSyncStateSetFailed, "ALTER_SYNC_STATE_SET_FAILED", 2013},
	{ErrBrokerIDInvalid, "BROKER_ID_INVALID", 2014},
	// ledgerless's own conditions. RocketMQ has no code for a full group;
	// 2005 (invalid request) is the nearest a broker understands.
	{ErrTooManyBrokers, "TOO_MANY_BROKERS", RocketMQInvalidRequest},
	{ErrTooManyLongPolls, "TOO_MANY_LONG_POLLS", RocketMQSystemBusy},
	// Only REST writes conditionally; RocketMQ's nearest is 2005.
	{ErrPreconditionFailed, "PRECONDITION_FAILED", RocketMQInvalidRequest},
	{ErrUnauthenticated, "UNAUTHORIZED", RocketMQNoPermission},
	{ErrForbidden, "FORBIDDEN", RocketMQNoPermission},
	// etcd cannot answer now (a leader change, an outage, a replica
	// shutting down): SYSTEM_BUSY, as a stock controller answers while it
	// cannot serve, so that the broker tries again; SYSTEM_ERROR is for
	// what trying again will not fix.
	{ErrUnavailable, "UNAVAILABLE", RocketMQSystemBusy},
	{context.DeadlineExceeded, "UNAVAILABLE", RocketMQSystemBusy},
	{context.Canceled, "UNAVAILABLE", RocketMQSystemBusy},
}

// ConditionOf returns the first condition of the table that err is, and
// false for an error that is none of them (an internal error, SYSTEM_ERROR
// to RocketMQ).
func ConditionOf(err error) (Condition, bool) {
	for _, c := range Conditions {
		if errors.Is(err, c.Err) {
			return c, true
		}
	}
	return Condition{Code: "INTERNAL", RocketMQ: RocketMQSystemError}, false
}

// Invalid returns an ErrInvalidRequest whose message is detail alone, as
// both front ends show it.
func Invalid(detail string) error { return invalidError(detail) }

type invalidError string

func (e invalidError) Error() string { return string(e) }
func (e invalidError) Unwrap() error { return ErrInvalidRequest }
