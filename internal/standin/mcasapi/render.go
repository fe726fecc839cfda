package mcasapi

import (
	"strconv"
	"strings"
	"time"
	"unicode/utf8"
)

// jw appends JSON to b in the order it is written (the real records keep a
// fixed key order, and encoding/json would sort map keys). Each writer adds
// the comma itself, so callers only open, write and close.
type jw struct{ b []byte }

// sep adds a comma unless a container or a key was just opened.
func (w *jw) sep() {
	if n := len(w.b); n > 0 {
		switch w.b[n-1] {
		case '{', '[', ':':
		default:
			w.b = append(w.b, ',')
		}
	}
}

// k writes key k, or only the separator for an array element (k == "").
func (w *jw) k(k string) {
	w.sep()
	if k != "" {
		w.b = appendString(w.b, k)
		w.b = append(w.b, ':')
	}
}

func (w *jw) obj(k string)            { w.k(k); w.b = append(w.b, '{') }
func (w *jw) arr(k string)            { w.k(k); w.b = append(w.b, '[') }
func (w *jw) end()                    { w.b = append(w.b, '}') }
func (w *jw) endArr()                 { w.b = append(w.b, ']') }
func (w *jw) str(k, v string)         { w.k(k); w.b = appendString(w.b, v) }
func (w *jw) num(k string, v int64)   { w.k(k); w.b = strconv.AppendInt(w.b, v, 10) }
func (w *jw) flt(k string, v float64) { w.k(k); w.b = strconv.AppendFloat(w.b, v, 'f', -1, 64) }
func (w *jw) null(k string)           { w.k(k); w.b = append(w.b, "null"...) }
func (w *jw) boolean(k string, v bool) {
	w.k(k)
	w.b = strconv.AppendBool(w.b, v)
}

// strs writes an array of strings.
func (w *jw) strs(k string, vs ...string) {
	w.arr(k)
	for _, v := range vs {
		w.str("", v)
	}
	w.endArr()
}

// appendString appends s as a JSON string. Invalid UTF-8 becomes U+FFFD, as
// encoding/json does.
func appendString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x80 {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r == utf8.RuneError && size == 1 {
				b = append(b, s[start:i]...)
				b = append(b, `\ufffd`...)
				i += size
				start = i
				continue
			}
			i += size
			continue
		}
		if c >= 0x20 && c != '"' && c != '\\' {
			i++
			continue
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"', '\\':
			b = append(b, '\\', c)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			const hexdig = "0123456789abcdef"
			b = append(b, '\\', 'u', '0', '0', hexdig[c>>4], hexdig[c&0xf])
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}

// o365Time is the Office 365 audit time format ("2020-07-18T18:18:33.0000000Z").
func o365Time(ms int64) string {
	return time.UnixMilli(ms).UTC().Format("2006-01-02T15:04:05.0000000Z")
}

// details are the values of one record derived from its seed, in a fixed
// draw order so a record always renders the same.
type details struct {
	event       string // the event guid: the last part of _id
	ip          string
	file        string
	fileID      string
	correlation string
	site        string
	list, web   string
	other       *userInfo // the user an admin operation targets
	team        string
	teamID      string
	repo        string
	report      string
	role        string
	subject     string
	instOffset  int64
	small       uint64
}

func deriveDetails(a *Activity) details {
	r := drand{s: a.seed}
	d := details{
		event: a.ID[strings.LastIndexByte(a.ID, '_')+1:],
		ip:    ip(a.loc, a.seed),
	}
	d.file = fileNames[r.intn(len(fileNames))]
	d.fileID = guid(r.next(), r.next())
	d.correlation = guid(r.next(), r.next())
	d.site = guid(r.next(), r.next())
	d.list = guid(r.next(), r.next())
	d.web = guid(r.next(), r.next())
	d.other = &users[r.intn(len(users))]
	d.team = teamNames[r.intn(len(teamNames))]
	d.teamID = guid(r.next(), r.next())
	d.repo = repoNames[r.intn(len(repoNames))]
	d.report = reportNames[r.intn(len(reportNames))]
	d.role = roleNames[r.intn(len(roleNames))]
	d.subject = mailSubjects[r.intn(len(mailSubjects))]
	d.instOffset = 500 + int64(r.intn(4500))
	d.small = r.next()
	return d
}

var siteName = strings.NewReplacer(" ", "", ".", "")

// siteURL is the SharePoint or OneDrive site a file lives in.
func siteURL(t *tenant, op *opInfo, u *userInfo, d *details) string {
	if op.app == aOneDrive {
		return "https://" + t.my + "/personal/" + strings.NewReplacer("@", "_", ".", "_").Replace(u.upn) + "/"
	}
	return "https://" + t.spo + "/sites/" + siteName.Replace(d.team) + "/"
}

// targetObject names the object the operation acts on.
func targetObject(t *tenant, a *Activity, d *details) (name, id string) {
	op, u := &ops[a.op], &users[a.user]
	switch op.target {
	case tFile:
		if apps[op.app].fam == famO365 {
			return siteURL(t, op, u, d) + "Documents/" + d.file, d.fileID
		}
		return d.file, strconv.FormatUint(d.small%1e12, 10)
	case tSite:
		return siteURL(t, op, u, d), d.site
	case tMailbox:
		if op.admin {
			return d.other.upn, d.other.object
		}
		return u.upn, u.object
	case tMessage:
		return d.subject, "<" + d.correlation + "@" + t.domain + ">"
	case tTeam:
		return d.team, d.teamID
	case tApp:
		return apps[op.app].name, strconv.Itoa(apps[op.app].id)
	case tUser:
		return d.other.upn, d.other.object
	case tRole:
		return d.role, d.site
	case tRepo:
		return t.ghOrg + "/" + d.repo, strconv.FormatUint(d.small%1e9, 10)
	case tReport:
		return d.report, "00O5g00000" + strconv.FormatUint(d.small%1e8, 36)
	}
	return "", ""
}

// renderRecord writes a generated activity in the shape of a real record
// (the sample in testdata/sample_1.json), keys in the same order.
func renderRecord(w *jw, a *Activity) {
	t := a.ten
	op, app, u, l, ua := &ops[a.op], &apps[ops[a.op].app], &users[a.user], &locs[a.loc], &uas[a.ua]
	k := &kinds[op.kind]
	d := deriveDetails(a)
	failed := op.kind == kFailedLogin
	tName, tID := targetObject(t, a, &d)

	w.obj("")
	w.str("_id", a.ID)
	w.num("tenantId", t.id)
	w.str("aadTenantId", t.aad)
	w.num("appId", int64(a.AppID))
	w.num("saasId", int64(a.AppID))
	w.num("timestamp", a.Timestamp)
	w.num("timestampRaw", a.Timestamp)
	w.num("instantiation", a.Created-d.instOffset)
	w.num("instantiationRaw", a.Created-d.instOffset)
	w.num("created", a.Created)
	w.num("createdRaw", a.Created)
	w.num("eventType", int64(op.eventType))
	w.str("eventTypeValue", op.value)

	w.obj("eventRouting")
	w.boolean("scubaUnpacker", false)
	w.boolean("lograbber", true)
	w.boolean("auditing", true)
	w.boolean("adminEvent", op.admin)
	w.end()

	w.obj("device")
	w.str("clientIP", d.ip)
	w.str("userAgent", ua.raw)
	w.str("countryCode", l.country)
	w.end()

	w.obj("location")
	w.str("countryCode", l.country)
	w.str("city", l.city)
	w.str("regionCode", l.regionCode)
	w.str("region", l.region)
	w.flt("longitude", l.long)
	w.flt("latitude", l.lat)
	w.str("organizationSearchable", l.org)
	w.boolean("anonymousProxy", l.anonymous)
	w.boolean("isSatelliteProvider", false)
	w.num("category", int64(l.category))
	w.str("categoryValue", l.categoryValue)
	w.end()

	w.obj("user")
	w.str("userName", u.upn)
	w.strs("userTags", u.tag)
	w.end()
	if failed {
		w.obj("failedUserData")
		w.str("userName", u.upn)
		w.end()
	}

	w.obj("userAgent")
	w.str("family", ua.family)
	w.str("name", ua.name)
	w.obj("operatingSystem")
	w.str("name", ua.osName)
	w.str("family", ua.osFamily)
	w.end()
	w.str("type", ua.typ)
	w.str("typeName", ua.typ)
	w.str("deviceType", ua.deviceType)
	w.boolean("nativeBrowser", ua.native)
	w.strs("tags", "000000000000000000000000")
	w.str("os", ua.os)
	w.str("browser", ua.browser)
	w.end()

	w.obj("internals")
	w.strs("otherIPs", d.ip)
	w.end()

	w.obj("mainInfo")
	w.arr("eventObjects")
	w.obj("")
	w.num("objType", int64(targets[op.target].objType))
	w.num("role", 3)
	w.strs("tags")
	w.str("name", tName)
	w.str("id", tID)
	w.str("serviceObjectType", targets[op.target].serviceType)
	w.end()
	eventObject(w, 21, u.upn, u)
	eventObject(w, 23, u.object, u)
	w.endArr()
	w.str("rawOperationName", op.raw)
	w.str("prettyOperationName", op.raw)
	w.str("type", "basic")
	w.obj("activityResult")
	w.boolean("isSuccess", !failed)
	if failed {
		w.str("message", "InvalidUserNameOrPassword")
	}
	w.end()
	w.end()

	w.num("confidenceLevel", 20)
	w.num("source", 2)
	w.obj("lograbberService")
	w.boolean("o365EventGrabber", app.fam == famO365)
	w.boolean("gediEvent", app.fam == famO365)
	w.end()
	w.num("srcAppId", int64(app.src))

	renderCollected(w, a, app, &d)
	renderRawData(w, a, &d, tName, tID)

	w.obj("resolvedActor")
	w.str("id", u.object)
	w.str("saasId", strconv.Itoa(appOffice365))
	w.str("instanceId", "0")
	w.strs("tags", u.tag)
	w.str("objType", "23")
	w.str("name", u.name)
	w.str("role", "4")
	w.boolean("resolved", true)
	w.end()

	w.str("uid", a.ID)
	w.str("appName", app.name)
	w.str("eventTypeName", k.category)
	w.strs("classifications")
	w.obj("entityData")
	entity(w, "0", u.upn, u)
	w.null("1")
	entity(w, "2", u.object, u)
	w.end()

	opName, target, colon := op.raw, "", ""
	description := op.raw
	if op.kind != kBasic && op.kind != kAdmin {
		opName = k.verb
		description = k.verb
	}
	if op.kind != kBasic && op.kind != kLogin && op.kind != kFailedLogin {
		target, colon = tName, ":"
		description = opName + ": " + tName
	}
	w.str("description_id", k.descID)
	w.obj("description_metadata")
	w.str("target_object", target)
	w.str("operation_name", opName)
	w.str("colon", colon)
	w.str("dash", "")
	w.end()
	w.str("description", description)
	w.str("genericEventType", k.generic)
	severity := "INFO"
	if failed || l.anonymous {
		severity = "LOW"
	}
	w.str("severity", severity)
	w.boolean("impersonated", a.flags&flagImpersonated != 0)
	w.end()
}

func eventObject(w *jw, objType int64, id string, u *userInfo) {
	w.obj("")
	w.num("objType", objType)
	w.num("role", 4)
	if objType == 23 {
		w.strs("tags", u.tag)
	} else {
		w.strs("tags")
	}
	w.str("name", u.name)
	w.num("instanceId", 0)
	w.boolean("resolved", true)
	w.num("saasId", appOffice365)
	w.str("id", id)
	w.num("link", u.link)
	w.end()
}

func entity(w *jw, key, id string, u *userInfo) {
	w.obj(key)
	w.str("displayName", u.name)
	w.obj("id")
	w.str("id", id)
	w.num("saas", appOffice365)
	w.num("inst", 0)
	w.end()
	w.boolean("resolved", true)
	w.end()
}

// renderCollected writes the collector's metadata for the app's connector.
func renderCollected(w *jw, a *Activity, app *appInfo, d *details) {
	w.obj("collected")
	switch app.fam {
	case famO365:
		// The audit blob is written between the event and MDA saving it.
		blob := a.Timestamp + (a.Created-a.Timestamp)*3/5
		start := time.UnixMilli(blob - 51_000 - int64(d.small%9000)).UTC()
		end := time.UnixMilli(blob).UTC()
		ct := "Audit_SharePoint"
		switch app.workload {
		case "Exchange":
			ct = "Audit_Exchange"
		case "AzureActiveDirectory":
			ct = "Audit_AzureActiveDirectory"
		case "MicrosoftTeams":
			ct = "Audit_General"
		}
		blobID := blobStamp(start, d.small%1000) + "$" + blobStamp(end, d.small%997) +
			"$" + strings.ToLower(ct) + "$" + ct + "$emea0029"
		w.obj("o365")
		w.str("blobCreated", o365Time(blob))
		w.str("blobId", blobID)
		w.end()
	case famBox:
		w.obj("box")
		w.num("streamPosition", a.Created*1000+int64(d.small%1000))
		w.str("eventId", d.correlation)
		w.end()
	case famSalesforce:
		w.obj("salesforce")
		w.str("logFileId", "0AT5g0000"+strings.ToUpper(strconv.FormatUint(d.small%1e9, 36)))
		w.str("logDate", time.UnixMilli(a.Timestamp).UTC().Truncate(24*time.Hour).Format("2006-01-02T15:04:05.000+0000"))
		w.end()
	case famGitHub:
		w.obj("github")
		w.str("documentId", strconv.FormatUint(d.small, 36))
		w.end()
	}
	w.end()
}

// renderRawData writes rawDataJson: the source event as the app's audit log
// has it.
func renderRawData(w *jw, a *Activity, d *details, tName, tID string) {
	t, op, app, u, ua := a.ten, &ops[a.op], &apps[ops[a.op].app], &users[a.user], &uas[a.ua]
	failed := op.kind == kFailedLogin
	w.obj("rawDataJson")
	switch app.fam {
	case famO365:
		w.str("OrganizationId", t.aad)
		w.str("CreationTime", o365Time(a.Timestamp))
		w.num("RecordType", int64(op.record))
		w.str("Operation", op.raw)
		userType := int64(0)
		if op.admin {
			userType = 2
		}
		w.num("UserType", userType)
		w.str("Workload", app.workload)
		w.str("ClientIP", d.ip)
		w.str("UserKey", u.key)
		w.num("Version", 1)
		w.str("ObjectId", tName)
		w.str("UserId", u.upn)
		w.str("Id", d.event)
		switch app.workload {
		case "SharePoint", "OneDrive":
			site := siteURL(t, op, u, d)
			w.str("CorrelationId", d.correlation)
			w.str("EventSource", "SharePoint")
			w.str("UserAgent", ua.raw)
			if op.target == tFile {
				ext := d.file[strings.LastIndexByte(d.file, '.')+1:]
				w.str("ListItemUniqueId", d.fileID)
				w.str("SourceFileExtension", ext)
				w.str("SourceRelativeUrl", "Documents")
				w.str("ItemType", "File")
				w.str("SourceFileName", d.file)
				w.str("ListId", d.list)
			} else {
				w.str("ItemType", "Site")
				w.str("TargetUserOrGroupName", d.other.upn)
			}
			w.str("ApplicationId", "4345a7b9-9a63-4910-a426-35363201d503")
			w.str("WebId", d.web)
			w.str("SiteUrl", site)
			w.str("Site", d.site)
			w.boolean("DoNotDistributeEvent", true)
			if op.kind == kShare {
				w.str("TargetUserOrGroupType", "Guest")
				w.str("EventData", "<Type>View</Type><MembersCanShare>Yes</MembersCanShare>")
			}
		case "Exchange":
			logon := int64(0)
			if a.flags&flagImpersonated != 0 {
				logon = 2 // delegate: someone else acting on this mailbox
			} else if op.admin {
				logon = 1
			}
			w.str("ResultStatus", "Succeeded")
			w.num("LogonType", logon)
			w.boolean("ExternalAccess", false)
			w.str("MailboxOwnerUPN", u.upn)
			w.str("MailboxGuid", d.site)
			w.str("ClientInfoString", "Client=MSExchangeRPC; "+ua.raw)
			w.str("OrganizationName", t.domain)
			if op.record == 1 {
				w.arr("Parameters")
				w.obj("")
				w.str("Name", "Identity")
				w.str("Value", tName)
				w.end()
				w.endArr()
			}
		case "MicrosoftTeams":
			w.str("TeamName", d.team)
			w.str("TeamGuid", "19:"+strings.ReplaceAll(d.teamID, "-", "")+"@thread.tacv2")
			w.str("CommunicationType", "Team")
			w.str("UserAgent", ua.raw)
		case "AzureActiveDirectory":
			status := "Success"
			if failed {
				status = "Failed"
			}
			w.str("ResultStatus", status)
			eventType := int64(1) // AccountLogon
			if op.record != 15 {
				eventType = 0
			}
			w.num("AzureActiveDirectoryEventType", eventType)
			w.arr("ExtendedProperties")
			w.obj("")
			w.str("Name", "UserAgent")
			w.str("Value", ua.raw)
			w.end()
			w.obj("")
			w.str("Name", "RequestType")
			w.str("Value", "Login:login")
			w.end()
			w.endArr()
			w.arr("Actor")
			w.obj("")
			w.str("ID", u.object)
			w.num("Type", 0)
			w.end()
			w.obj("")
			w.str("ID", u.upn)
			w.num("Type", 5)
			w.end()
			w.endArr()
			w.str("ActorIpAddress", d.ip)
			w.str("ApplicationId", "00000002-0000-0ff1-ce00-000000000000")
			if failed {
				w.str("LogonError", "InvalidUserNameOrPassword")
				w.str("ErrorNumber", "50126")
			}
			if op.admin {
				// Directory audit events carry keys differing only by case, which
				// breaks case-insensitive JSON decoders (reference §3.2).
				w.num("Level", 4)
				w.str("level", "Informational")
				w.arr("Target")
				w.obj("")
				w.str("ID", tID)
				w.num("Type", 2)
				w.end()
				w.endArr()
			}
		}
	case famBox:
		w.str("type", "event")
		w.str("event_id", d.correlation)
		w.obj("created_by")
		w.str("type", "user")
		w.str("id", strconv.FormatInt(-u.link, 10))
		w.str("name", u.name)
		w.str("login", u.upn)
		w.end()
		w.str("created_at", time.UnixMilli(a.Timestamp).UTC().Format("2006-01-02T15:04:05-07:00"))
		w.str("event_type", op.raw)
		w.str("ip_address", d.ip)
		w.str("session_id", strconv.FormatUint(d.small%1e15, 36))
		if op.target == tFile {
			w.obj("source")
			w.str("type", "file")
			w.str("id", tID)
			w.str("name", tName)
			w.end()
		} else {
			w.null("source")
		}
		w.null("additional_details")
	case famSalesforce:
		w.str("EVENT_TYPE", op.raw)
		w.str("TIMESTAMP", time.UnixMilli(a.Timestamp).UTC().Format("20060102150405.000"))
		w.str("REQUEST_ID", "4"+strings.ToUpper(strconv.FormatUint(d.small, 36)))
		w.str("ORGANIZATION_ID", t.sfOrg)
		w.str("USER_ID", "0055g00000"+strings.ToUpper(strconv.FormatInt(-u.link, 36)))
		w.str("USER_NAME", u.upn)
		w.str("CLIENT_IP", d.ip)
		w.str("SOURCE_IP", d.ip)
		w.str("BROWSER_TYPE", ua.raw)
		switch op.kind {
		case kLogin:
			w.str("LOGIN_STATUS", "LOGIN_NO_ERROR")
		case kFailedLogin:
			w.str("LOGIN_STATUS", "LOGIN_ERROR_INVALID_PASSWORD")
		default:
			w.str("URI", "/"+tID)
			w.str("ENTITY_NAME", tName)
		}
	case famGitHub:
		w.num("@timestamp", a.Timestamp)
		w.str("_document_id", strconv.FormatUint(d.small, 36))
		w.str("action", op.raw)
		w.str("actor", u.ghLogin)
		w.str("actor_ip", d.ip)
		w.obj("actor_location")
		w.str("country_code", locs[a.loc].country)
		w.end()
		w.str("org", t.ghOrg)
		if op.target == tRepo {
			w.str("repo", tName)
		} else {
			w.str("user", d.other.ghLogin)
		}
		w.str("user_agent", ua.raw)
		w.num("created_at", a.Timestamp)
		opType := "access"
		if op.admin {
			opType = "modify"
		}
		w.str("operation_type", opType)
	}
	w.end()
}

// blobStamp formats a time as the O365 blob ids do: seconds then nine digits.
func blobStamp(t time.Time, jitter uint64) string {
	ns := strconv.FormatInt(int64(t.Nanosecond())+int64(jitter), 10)
	return t.Format("20060102150405") + strings.Repeat("0", 9-len(ns)) + ns
}
