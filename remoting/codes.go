package remoting

import "strconv"

// Request codes of the controller protocol.
const (
	BrokerHeartbeat         = 904
	AlterSyncStateSet       = 1001
	ElectMaster             = 1002
	RegisterBroker          = 1003
	GetReplicaInfo          = 1004
	GetMetadataInfo         = 1005
	GetSyncStateData        = 1006
	GetBrokerEpochCache     = 1007
	NotifyBrokerRoleChanged = 1008
	UpdateControllerConfig  = 1009
	GetControllerConfig     = 1010
	CleanBrokerData         = 1011
	GetNextBrokerID         = 1012
	ApplyBrokerID           = 1013
)

var requestNames = map[int]string{
	BrokerHeartbeat:         "BROKER_HEARTBEAT",
	AlterSyncStateSet:       "CONTROLLER_ALTER_SYNC_STATE_SET",
	ElectMaster:             "CONTROLLER_ELECT_MASTER",
	RegisterBroker:          "CONTROLLER_REGISTER_BROKER",
	GetReplicaInfo:          "CONTROLLER_GET_REPLICA_INFO",
	GetMetadataInfo:         "CONTROLLER_GET_METADATA_INFO",
	GetSyncStateData:        "CONTROLLER_GET_SYNC_STATE_DATA",
	GetBrokerEpochCache:     "GET_BROKER_EPOCH_CACHE",
	NotifyBrokerRoleChanged: "NOTIFY_BROKER_ROLE_CHANGED",
	UpdateControllerConfig:  "UPDATE_CONTROLLER_CONFIG",
	GetControllerConfig:     "GET_CONTROLLER_CONFIG",
	CleanBrokerData:         "CLEAN_BROKER_DATA",
	GetNextBrokerID:         "CONTROLLER_GET_NEXT_BROKER_ID",
	ApplyBrokerID:           "CONTROLLER_APPLY_BROKER_ID",
}

// RequestName names a request code, or "UNKNOWN" for codes the
// controller protocol does not have (metric labels stay few).
func RequestName(code int) string {
	if n, ok := requestNames[code]; ok {
		return n
	}
	return "UNKNOWN"
}

// Response codes that are not controller conditions (those are in
// ledgerless.Conditions).
const (
	Success          = 0
	SystemError      = 1
	SystemBusy       = 2
	NotSupported     = 3
	NoPermission     = 16
	ControllerPrefix = 2000
)

var responseNames = map[int]string{
	0: "SUCCESS", 1: "SYSTEM_ERROR", 2: "SYSTEM_BUSY", 3: "REQUEST_CODE_NOT_SUPPORTED", 16: "NO_PERMISSION",
	2000: "CONTROLLER_FENCED_MASTER_EPOCH", 2001: "CONTROLLER_FENCED_SYNC_STATE_SET_EPOCH",
	2002: "CONTROLLER_INVALID_MASTER", 2003: "CONTROLLER_INVALID_REPLICAS", 2004: "CONTROLLER_MASTER_NOT_AVAILABLE",
	2005: "CONTROLLER_INVALID_REQUEST", 2006: "CONTROLLER_BROKER_NOT_ALIVE", 2007: "CONTROLLER_NOT_LEADER",
	2008: "CONTROLLER_BROKER_METADATA_NOT_EXIST", 2009: "CONTROLLER_INVALID_CLEAN_BROKER_METADATA",
	2010: "CONTROLLER_BROKER_NEED_TO_BE_REGISTERED", 2011: "CONTROLLER_MASTER_STILL_EXIST",
	2012: "CONTROLLER_ELECT_MASTER_FAILED", 2013: "CONTROLLER_ALTER_SYNC_STATE_SET_FAILED",
	2014: "CONTROLLER_BROKER_ID_INVALID",
}

// ResponseName names a response code.
func ResponseName(code int) string {
	if n, ok := responseNames[code]; ok {
		return n
	}
	return "CODE_" + strconv.Itoa(code)
}
