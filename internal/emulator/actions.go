package emulator

import (
	"encoding/json"
	"strconv"
	"strings"
	"time"
)

type obj = map[string]any

func (e *Emulator) describeRegions(r *request) (any, error) {
	return obj{"RequestId": r.id, "Regions": obj{"Region": []obj{{
		"RegionId": e.fleet.Region, "LocalName": e.fleet.Region + " (emulated)", "RegionEndpoint": "127.0.0.1", "Status": "available",
	}}}}, nil
}

// page applies MaxResults/NextToken paging to n items, returning the window and the next token.
func page(r *request, n, def, lo, hi int) (start, end int, next string, err error) {
	size := def
	if v := r.get("MaxResults"); v != "" {
		size, err = strconv.Atoi(v)
		if err != nil {
			return 0, 0, "", newAPIError("InvalidParameter", "MaxResults is not a number")
		}
		size = min(max(size, lo), hi)
	}
	if tok := r.get("NextToken"); tok != "" {
		start, err = strconv.Atoi(strings.TrimPrefix(tok, "emu-"))
		if err != nil || !strings.HasPrefix(tok, "emu-") || start < 0 || start > n {
			return 0, 0, "", newAPIError("InvalidParameter", "The specified NextToken is invalid.")
		}
	}
	end = min(start+size, n)
	if end < n {
		next = "emu-" + strconv.Itoa(end)
	}
	return start, end, next, nil
}

func jsonList(r *request, name string) ([]string, error) {
	v := r.get(name)
	if v == "" {
		return nil, nil
	}
	var out []string
	if err := json.Unmarshal([]byte(v), &out); err != nil {
		return nil, newAPIError("InvalidParameter", "The specified parameter \""+name+"\" is not a valid JSON array.")
	}
	return out, nil
}

func contains(list []string, s string) bool {
	for _, v := range list {
		if v == s {
			return true
		}
	}
	return false
}

func (e *Emulator) describeInstances(r *request) (any, error) {
	ids, err := jsonList(r, "InstanceIds")
	if err != nil {
		return nil, err
	}
	priv, err := jsonList(r, "PrivateIpAddresses")
	if err != nil {
		return nil, err
	}
	pub, err := jsonList(r, "PublicIpAddresses")
	if err != nil {
		return nil, err
	}
	if len(ids) > 100 {
		return nil, newAPIError("InvalidParameter", "The number of InstanceIds exceeds 100.")
	}
	name, status := r.get("InstanceName"), r.get("Status")
	var tags [][2]string
	for i := 1; ; i++ {
		k, ok := r.params["Tag."+strconv.Itoa(i)+".Key"]
		if !ok {
			break
		}
		tags = append(tags, [2]string{k[0], r.get("Tag." + strconv.Itoa(i) + ".Value")})
	}
	var match []*Instance
	for i := range e.fleet.Instances {
		in := &e.fleet.Instances[i]
		switch {
		case len(ids) > 0 && !contains(ids, in.ID),
			name != "" && !matchName(name, in.Name),
			status != "" && in.Status != status,
			len(priv) > 0 && !contains(priv, in.PrivateIP),
			len(pub) > 0 && !contains(pub, in.PublicIP):
			continue
		}
		ok := true
		for _, t := range tags {
			if v, has := in.Tags[t[0]]; !has || (t[1] != "" && v != t[1]) {
				ok = false
			}
		}
		if ok {
			match = append(match, in)
		}
	}
	start, end, next, err := page(r, len(match), 10, 10, 100)
	if err != nil {
		return nil, err
	}
	out := make([]obj, 0, end-start)
	for _, in := range match[start:end] {
		out = append(out, instanceJSON(e.fleet.Region, in))
	}
	resp := obj{"RequestId": r.id, "TotalCount": len(match), "PageSize": end - start, "PageNumber": 1,
		"Instances": obj{"Instance": out}}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

func ipList(ip string) obj {
	if ip == "" {
		return obj{"IpAddress": []string{}}
	}
	return obj{"IpAddress": []string{ip}}
}

func instanceJSON(region string, in *Instance) obj {
	tags := []obj{}
	for _, k := range in.sortedTags() {
		tags = append(tags, obj{"TagKey": k, "TagValue": in.Tags[k]})
	}
	return obj{
		"InstanceId": in.ID, "InstanceName": in.Name, "HostName": in.Name, "Status": in.Status,
		"OSType": strings.ToLower(in.OS), "OSName": in.OSName, "RegionId": region, "ZoneId": in.Zone,
		"InstanceType": in.Type, "CreationTime": "2026-01-01T00:00Z",
		"VpcAttributes":   obj{"VpcId": "vpc-emu0", "VSwitchId": "vsw-emu0", "PrivateIpAddress": ipList(in.PrivateIP)},
		"PublicIpAddress": ipList(in.PublicIP),
		"Tags":            obj{"Tag": tags},
	}
}

func (e *Emulator) describeCloudAssistantStatus(r *request) (any, error) {
	ids := r.list("InstanceId")
	if len(ids) > 100 {
		return nil, newAPIError("InvalidParameter", "The number of InstanceId exceeds 100.")
	}
	osType := r.get("OSType")
	var match []*Instance
	for i := range e.fleet.Instances {
		in := &e.fleet.Instances[i]
		if (len(ids) > 0 && !contains(ids, in.ID)) || (osType != "" && !strings.EqualFold(osType, in.OS)) {
			continue
		}
		match = append(match, in)
	}
	start, end, next := 0, len(match), ""
	if len(ids) == 0 { // with IDs, paging is ignored
		var err error
		if start, end, next, err = page(r, len(match), 10, 1, 50); err != nil {
			return nil, err
		}
	}
	heartbeat := e.opts.Now().UTC().Add(-20 * time.Second).Format("2006-01-02T15:04:05Z")
	out := make([]obj, 0, end-start)
	for _, in := range match[start:end] {
		st := obj{"InstanceId": in.ID, "OSType": in.OS, "CloudAssistantStatus": "false", "CloudAssistantVersion": "",
			"SupportSessionManager": false, "ActiveTaskCount": 0, "InvocationCount": 0}
		if in.Agent == nil && e.pendingAgent(in.ID) {
			st["CloudAssistantVersion"], st["SupportSessionManager"] = installedVersion, true
		}
		if a := in.Agent; a != nil {
			st["CloudAssistantVersion"] = a.Version
			st["SupportSessionManager"] = a.SessionManager
			st["CloudAssistantStatus"] = strconv.FormatBool(a.Online)
			if a.Online {
				st["LastHeartbeatTime"] = heartbeat
			}
		}
		out = append(out, st)
	}
	resp := obj{"RequestId": r.id, "TotalCount": len(match), "InstanceCloudAssistantStatusSet": obj{"InstanceCloudAssistantStatus": out}}
	if next != "" {
		resp["NextToken"] = next
	}
	return resp, nil
}

func (e *Emulator) describeUserBusinessBehavior(r *request) (any, error) {
	if r.get("statusKey") != "sessionManagerStatus" {
		return nil, newAPIError("InvalidParameter", "The specified statusKey is not supported.")
	}
	e.mu.Lock()
	v := "enabled"
	if !e.sessionsEnabled() {
		v = "disabled"
	}
	e.mu.Unlock()
	return obj{"RequestId": r.id, "StatusValue": v}, nil
}
