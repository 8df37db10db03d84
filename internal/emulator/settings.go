package emulator

import (
	"encoding/json"
	"strings"
)

// Delivery is the account's Session Record Delivery: where the service sends what happens in
// sessions. DescribeCloudAssistantSettings reports it with SettingType SessionManagerDelivery.
type Delivery struct {
	OSS *OSSDelivery `yaml:"oss"`
	SLS *SLSDelivery `yaml:"sls"`
}

// OSSDelivery delivers session records to an OSS bucket, with the fields the ECS SDK models.
type OSSDelivery struct {
	Enabled             bool   `yaml:"enabled" json:"Enabled"`
	BucketName          string `yaml:"bucket" json:"BucketName,omitempty"`
	Prefix              string `yaml:"prefix" json:"Prefix,omitempty"`
	EncryptionType      string `yaml:"encryptionType" json:"EncryptionType,omitempty"`
	EncryptionAlgorithm string `yaml:"encryptionAlgorithm" json:"EncryptionAlgorithm,omitempty"`
	EncryptionKeyID     string `yaml:"encryptionKeyId" json:"EncryptionKeyId,omitempty"`
}

// SLSDelivery delivers session records to a Simple Log Service logstore.
type SLSDelivery struct {
	Enabled      bool   `yaml:"enabled" json:"Enabled"`
	ProjectName  string `yaml:"project" json:"ProjectName,omitempty"`
	LogstoreName string `yaml:"logstore" json:"LogstoreName,omitempty"`
}

// sessionDeliveryType is the DeliveryType of session records in answers. The SDK documents no
// values; this one is inferred from the SettingType's name (SessionManagerDelivery).
const sessionDeliveryType = "SessionManager"

// settingTypes are the SettingType values ModifyCloudAssistantSettings documents, plus
// ResourceUsageConfig, which DescribeCloudAssistantSettings' answer models.
var settingTypes = []string{"SessionManagerConfig", "SessionManagerDelivery", "InvocationDelivery", "AgentUpgradeConfig", "ResourceUsageConfig"}

// sessionsEnabled is the account's session switch; e.mu must be held.
func (e *Emulator) sessionsEnabled() bool { return e.fleet.SessionManager != "disabled" }

func (e *Emulator) describeCloudAssistantSettings(r *request) (any, error) {
	types := r.list("SettingType")
	if len(types) == 0 {
		if v := r.get("SettingType"); v != "" {
			types = []string{v}
		}
	}
	if len(types) == 0 {
		return nil, newAPIError("MissingParameter", "The input parameter \"SettingType\" that is mandatory for processing this request is not supplied.")
	}
	resp := obj{"RequestId": r.id}
	e.mu.Lock()
	defer e.mu.Unlock()
	for _, t := range types {
		switch t {
		case "SessionManagerConfig":
			resp["SessionManagerConfig"] = obj{"SessionManagerEnabled": e.sessionsEnabled()}
		case "SessionManagerDelivery":
			oss, sls := []any{}, []any{}
			if d := e.fleet.SessionDelivery.OSS; d != nil {
				oss = append(oss, withType(*d))
			}
			if d := e.fleet.SessionDelivery.SLS; d != nil {
				sls = append(sls, withType(*d))
			}
			resp["OssDeliveryConfigs"] = obj{"OssDeliveryConfig": oss}
			resp["SlsDeliveryConfigs"] = obj{"SlsDeliveryConfig": sls}
		case "InvocationDelivery", "AgentUpgradeConfig", "ResourceUsageConfig":
			// Not emulated: an answer without the section, as for an account that never set it.
		default:
			return nil, newAPIError("InvalidParameter", "The specified SettingType \""+t+"\" is not valid; use one of "+strings.Join(settingTypes, ", ")+".")
		}
	}
	return resp, nil
}

// withType is a delivery config as an answer lists it, with its DeliveryType.
func withType(v any) obj {
	b, _ := json.Marshal(v)
	var o obj
	_ = json.Unmarshal(b, &o)
	o["DeliveryType"] = sessionDeliveryType
	return o
}

func (e *Emulator) modifyCloudAssistantSettings(r *request) (any, error) {
	t := r.get("SettingType")
	parse := func(name string, v any) (bool, error) {
		s := r.get(name)
		if s == "" {
			return false, nil
		}
		if err := json.Unmarshal([]byte(s), v); err != nil {
			return false, newAPIError("InvalidParameter", "The specified parameter \""+name+"\" is not valid JSON.")
		}
		return true, nil
	}
	e.mu.Lock()
	defer e.mu.Unlock()
	switch t {
	case "":
		return nil, newAPIError("MissingParameter", "The input parameter \"SettingType\" that is mandatory for processing this request is not supplied.")
	case "SessionManagerConfig":
		var c struct{ SessionManagerEnabled *bool }
		ok, err := parse("SessionManagerConfig", &c)
		if err != nil {
			return nil, err
		}
		if !ok || c.SessionManagerEnabled == nil {
			return nil, newAPIError("MissingParameter", "SessionManagerConfig.SessionManagerEnabled is not supplied.")
		}
		e.fleet.SessionManager = "enabled"
		if !*c.SessionManagerEnabled {
			e.fleet.SessionManager = "disabled"
		}
	case "SessionManagerDelivery":
		var oss OSSDelivery
		var sls SLSDelivery
		okOSS, err := parse("OssDeliveryConfig", &oss)
		if err != nil {
			return nil, err
		}
		okSLS, err := parse("SlsDeliveryConfig", &sls)
		if err != nil {
			return nil, err
		}
		if okOSS {
			e.fleet.SessionDelivery.OSS = &oss
		}
		if okSLS {
			e.fleet.SessionDelivery.SLS = &sls
		}
	default:
		return nil, newAPIError("InvalidParameter", "The specified SettingType \""+t+"\" is not valid or not emulated.")
	}
	return obj{"RequestId": r.id}, nil
}
