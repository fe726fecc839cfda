package mcasapi

// The catalog: the apps, operations, users, places and user agents the
// generator draws from. Activities keep small indexes into these tables and
// render the full record from them when served.

// family is the connector family, which decides the rawDataJson and
// collected shapes.
type family uint8

const (
	famO365 family = iota
	famBox
	famSalesforce
	famGitHub
)

// tenant is the simulated organisation.
type tenant struct {
	id     int64  // tenantId, the MDA tenant number
	aad    string // aadTenantId
	domain string // UPN domain
	spo    string // SharePoint host
	my     string // OneDrive host
	sfOrg  string // Salesforce organisation id
	ghOrg  string // GitHub organisation
}

var defaultTenant = &tenant{
	id:     26110511,
	aad:    "6d3e1b7a-0c52-4f1e-9a57-3b8f2c4d9e10",
	domain: "contoso.onmicrosoft.com",
	spo:    "contoso.sharepoint.com",
	my:     "contoso-my.sharepoint.com",
	sfOrg:  "00D5g000004CnTqEAK",
	ghOrg:  "contoso",
}

// appOffice365 is the Office 365 connector (srcAppId of every Microsoft 365 app).
const appOffice365 = 11161

// App ids: 20893 Exchange Online, 20892 SharePoint Online, 15600 OneDrive for
// Business, 28375 Microsoft Teams, 10489 Box, 11114 Salesforce and 11161
// Office 365 are the ids Defender for Cloud Apps uses (the MCAS PowerShell
// module's app enum, the sample record). The ids of Microsoft Entra ID (32780)
// and GitHub (26061) are invented: no public source was found for them.
type appInfo struct {
	id       int
	name     string
	src      int // srcAppId: the connector that collected the activity
	fam      family
	workload string // O365 Workload
	weight   int
	uas      []uint8 // user agents seen with this app
}

// Indexes into apps.
const (
	aExchange = iota
	aSharePoint
	aOneDrive
	aTeams
	aEntra
	aBox
	aSalesforce
	aGitHub
)

var apps = []appInfo{
	aExchange:   {20893, "Microsoft Exchange Online", appOffice365, famO365, "Exchange", 25, []uint8{uaOutlook, uaOutlook, uaEdge, uaChrome, uaIOSMail}},
	aSharePoint: {20892, "Microsoft SharePoint Online", appOffice365, famO365, "SharePoint", 15, []uint8{uaEdge, uaChrome, uaSafariMac, uaChrome}},
	aOneDrive:   {15600, "Microsoft OneDrive for Business", appOffice365, famO365, "OneDrive", 15, []uint8{uaOneDriveSync, uaOneDriveSync, uaThumbnail, uaEdge, uaSafariIOS}},
	aTeams:      {28375, "Microsoft Teams", appOffice365, famO365, "MicrosoftTeams", 12, []uint8{uaTeams, uaTeams, uaEdge, uaSafariIOS}},
	aEntra:      {32780, "Microsoft Entra ID", appOffice365, famO365, "AzureActiveDirectory", 15, []uint8{uaEdge, uaChrome, uaOutlook, uaTeams, uaSafariMac, uaSafariIOS}},
	aBox:        {10489, "Box", 10489, famBox, "", 6, []uint8{uaChrome, uaSafariMac, uaBoxDrive}},
	aSalesforce: {11114, "Salesforce", 11114, famSalesforce, "", 6, []uint8{uaChrome, uaEdge, uaSafariMac}},
	aGitHub:     {26061, "GitHub", 26061, famGitHub, "", 6, []uint8{uaGit, uaGit, uaChrome, uaSafariMac}},
}

// kind is the activity category, which fixes eventTypeName, genericEventType
// and the description template.
type kind uint8

const (
	kBasic kind = iota
	kLogin
	kFailedLogin
	kView
	kDownload
	kUpload
	kDelete
	kShare
	kReadMail
	kSendMail
	kAdmin
)

var kinds = [...]struct{ category, generic, descID, verb string }{
	kBasic:       {"EVENT_CATEGORY_UNSPECIFIED", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_BASIC_EVENT", ""},
	kLogin:       {"EVENT_CATEGORY_LOGIN", "ENUM_ACTIVITY_GENERIC_TYPE_LOGIN", "EVENT_DESCRIPTION_LOGIN", "Log on"},
	kFailedLogin: {"EVENT_CATEGORY_FAILED_LOGIN", "ENUM_ACTIVITY_GENERIC_TYPE_FAILED_LOGIN", "EVENT_DESCRIPTION_FAILED_LOGIN", "Failed log on"},
	kView:        {"EVENT_CATEGORY_VIEW_FILE", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_VIEW_FILE", "View file"},
	kDownload:    {"EVENT_CATEGORY_DOWNLOAD_FILE", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_DOWNLOAD_FILE", "Download file"},
	kUpload:      {"EVENT_CATEGORY_UPLOAD_FILE", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_UPLOAD_FILE", "Upload file"},
	kDelete:      {"EVENT_CATEGORY_DELETE_FILE", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_DELETE_FILE", "Delete file"},
	kShare:       {"EVENT_CATEGORY_SHARE_FILE", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_SHARE_FILE", "Share file"},
	kReadMail:    {"EVENT_CATEGORY_READ_MAIL", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_READ_MAIL", "Read mail"},
	kSendMail:    {"EVENT_CATEGORY_SEND_MAIL", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_SEND_MAIL", "Send mail"},
	kAdmin:       {"EVENT_CATEGORY_CHANGE_CONFIGURATION", "ENUM_ACTIVITY_GENERIC_TYPE_BASIC", "EVENT_DESCRIPTION_ADMIN_EVENT", "Administrative action"},
}

// target is the kind of object an operation acts on.
type target uint8

const (
	tFile target = iota
	tSite
	tMailbox
	tMessage
	tTeam
	tApp
	tUser
	tRole
	tRepo
	tReport
)

var targets = [...]struct {
	objType     int
	serviceType string
}{
	tFile:    {3, "File"},
	tSite:    {1, "SharePoint Site Collection"},
	tMailbox: {7, "Mailbox"},
	tMessage: {8, "Email Message"},
	tTeam:    {11, "Team"},
	tApp:     {17, "Application"},
	tUser:    {21, "Account"},
	tRole:    {19, "Role"},
	tRepo:    {5, "Repository"},
	tReport:  {9, "Report"},
}

// opInfo is one operation of one app.
type opInfo struct {
	app       int // index into apps
	raw       string
	kind      kind
	eventType int
	value     string // eventTypeValue
	target    target
	record    int // O365 RecordType (0 outside Microsoft 365)
	weight    int
	admin     bool
}

var ops = []opInfo{
	{aExchange, "MailItemsAccessed", kReadMail, 233501, "EVENT_O365_EXCHANGE_GENERIC", tMessage, 50, 30, false},
	{aExchange, "Send", kSendMail, 233502, "EVENT_O365_EXCHANGE_GENERIC", tMessage, 2, 15, false},
	{aExchange, "MoveToDeletedItems", kBasic, 233503, "EVENT_O365_EXCHANGE_GENERIC", tMessage, 2, 6, false},
	{aExchange, "New-InboxRule", kBasic, 233504, "EVENT_O365_EXCHANGE_ADMIN", tMailbox, 1, 2, false},
	{aExchange, "Set-Mailbox", kAdmin, 233505, "EVENT_O365_EXCHANGE_ADMIN", tMailbox, 1, 2, true},
	{aExchange, "Add-MailboxPermission", kAdmin, 233506, "EVENT_O365_EXCHANGE_ADMIN", tMailbox, 1, 1, true},

	{aSharePoint, "FileAccessed", kView, 233560, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 6, 30, false},
	{aSharePoint, "FileDownloaded", kDownload, 233561, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 6, 12, false},
	{aSharePoint, "FileUploaded", kUpload, 233562, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 6, 8, false},
	{aSharePoint, "FileDeleted", kDelete, 233563, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 6, 4, false},
	{aSharePoint, "SharingSet", kShare, 233564, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 14, 4, false},
	{aSharePoint, "AnonymousLinkCreated", kShare, 233565, "EVENT_O365_SHAREPOINT_GENERIC", tFile, 14, 2, false},
	{aSharePoint, "SiteCollectionAdminAdded", kAdmin, 233566, "EVENT_O365_SHAREPOINT_ADMIN", tSite, 6, 1, true},

	{aOneDrive, "FilePreviewed", kBasic, 233580, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 6, 20, false},
	{aOneDrive, "FileSyncDownloadedFull", kDownload, 233581, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 6, 10, false},
	{aOneDrive, "FileDownloaded", kDownload, 233582, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 6, 8, false},
	{aOneDrive, "FileModified", kBasic, 233583, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 6, 10, false},
	{aOneDrive, "FileDeleted", kDelete, 233584, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 6, 3, false},
	{aOneDrive, "AnonymousLinkCreated", kShare, 233585, "EVENT_O365_ONEDRIVE_GENERIC", tFile, 14, 2, false},

	{aTeams, "TeamsSessionStarted", kLogin, 233600, "EVENT_O365_TEAMS_GENERIC", tApp, 25, 15, false},
	{aTeams, "ChatCreated", kBasic, 233601, "EVENT_O365_TEAMS_GENERIC", tTeam, 25, 8, false},
	{aTeams, "MemberAdded", kBasic, 233602, "EVENT_O365_TEAMS_GENERIC", tTeam, 25, 4, false},
	{aTeams, "TeamCreated", kBasic, 233603, "EVENT_O365_TEAMS_GENERIC", tTeam, 25, 2, false},
	{aTeams, "TeamSettingChanged", kAdmin, 233604, "EVENT_O365_TEAMS_ADMIN", tTeam, 25, 1, true},

	{aEntra, "UserLoggedIn", kLogin, 233620, "EVENT_AAD_LOGIN", tApp, 15, 40, false},
	{aEntra, "UserLoginFailed", kFailedLogin, 233621, "EVENT_AAD_FAILED_LOGIN", tApp, 15, 8, false},
	{aEntra, "Add member to role.", kAdmin, 233622, "EVENT_AAD_ADMIN", tRole, 8, 1, true},
	{aEntra, "Reset user password.", kAdmin, 233623, "EVENT_AAD_ADMIN", tUser, 8, 1, true},
	{aEntra, "Update user.", kAdmin, 233624, "EVENT_AAD_ADMIN", tUser, 8, 2, true},

	{aBox, "LOGIN", kLogin, 120010, "EVENT_BOX_LOGIN", tApp, 0, 10, false},
	{aBox, "FAILED_LOGIN", kFailedLogin, 120011, "EVENT_BOX_FAILED_LOGIN", tApp, 0, 2, false},
	{aBox, "PREVIEW", kView, 120012, "EVENT_BOX_PREVIEW", tFile, 0, 15, false},
	{aBox, "DOWNLOAD", kDownload, 120013, "EVENT_BOX_DOWNLOAD", tFile, 0, 10, false},
	{aBox, "UPLOAD", kUpload, 120014, "EVENT_BOX_UPLOAD", tFile, 0, 5, false},
	{aBox, "DELETE", kDelete, 120015, "EVENT_BOX_DELETE", tFile, 0, 2, false},
	{aBox, "COLLABORATION_INVITE", kShare, 120016, "EVENT_BOX_COLLABORATION_INVITE", tFile, 0, 2, false},
	{aBox, "CHANGE_ADMIN_ROLE", kAdmin, 120017, "EVENT_BOX_CHANGE_ADMIN_ROLE", tUser, 0, 1, true},

	{aSalesforce, "Login", kLogin, 130010, "EVENT_SALESFORCE_LOGIN", tApp, 0, 10, false},
	{aSalesforce, "LoginFailed", kFailedLogin, 130011, "EVENT_SALESFORCE_FAILED_LOGIN", tApp, 0, 2, false},
	{aSalesforce, "URI", kView, 130012, "EVENT_SALESFORCE_URI", tReport, 0, 15, false},
	{aSalesforce, "ReportExport", kDownload, 130013, "EVENT_SALESFORCE_REPORT_EXPORT", tReport, 0, 5, false},
	{aSalesforce, "PermSetAssign", kAdmin, 130014, "EVENT_SALESFORCE_SETUP_AUDIT", tRole, 0, 1, true},
	{aSalesforce, "resetpassword", kAdmin, 130015, "EVENT_SALESFORCE_SETUP_AUDIT", tUser, 0, 1, true},

	{aGitHub, "git.clone", kDownload, 140010, "EVENT_GITHUB_GIT_CLONE", tRepo, 0, 15, false},
	{aGitHub, "git.push", kUpload, 140011, "EVENT_GITHUB_GIT_PUSH", tRepo, 0, 10, false},
	{aGitHub, "repo.download_zip", kDownload, 140012, "EVENT_GITHUB_REPO_DOWNLOAD", tRepo, 0, 3, false},
	{aGitHub, "repo.create", kBasic, 140013, "EVENT_GITHUB_REPO_CREATE", tRepo, 0, 3, false},
	{aGitHub, "repo.destroy", kDelete, 140014, "EVENT_GITHUB_REPO_DESTROY", tRepo, 0, 1, false},
	{aGitHub, "repo.access", kShare, 140015, "EVENT_GITHUB_REPO_ACCESS", tRepo, 0, 1, false},
	{aGitHub, "org.add_member", kAdmin, 140016, "EVENT_GITHUB_ORG_ADD_MEMBER", tUser, 0, 1, true},
	{aGitHub, "protected_branch.destroy", kAdmin, 140017, "EVENT_GITHUB_PROTECTED_BRANCH", tRepo, 0, 1, true},
}

// userInfo is one member of the simulated organisation (contoso placeholders).
type userInfo struct {
	upn     string
	name    string
	object  string // Entra object id
	tag     string // MDA user tag id
	link    int64  // MDA entity link
	key     string // O365 UserKey
	home    uint8  // index into locs
	admin   bool
	ghLogin string
}

var users = []userInfo{
	{"adele.vance@contoso.onmicrosoft.com", "Adele Vance", "3fa9f28b-eb0e-463a-ba7b-8089fe9991e2", "5f01dbbc68df27c17aa6ca81", -162371649, "10032000A1B2C3D4", 0, false, "adele-contoso"},
	{"alex.wilber@contoso.onmicrosoft.com", "Alex Wilber", "9b1c5d2e-4f3a-4c6b-8d7e-1a2b3c4d5e6f", "5f01dbbc68df27c17aa6ca82", -162371650, "10032000A1B2C3D5", 1, false, "awilber"},
	{"diego.siciliani@contoso.onmicrosoft.com", "Diego Siciliani", "c2d3e4f5-a6b7-4c8d-9e0f-112233445566", "5f01dbbc68df27c17aa6ca83", -162371651, "10032000A1B2C3D6", 8, false, "dsiciliani"},
	{"grady.archie@contoso.onmicrosoft.com", "Grady Archie", "d4e5f6a7-b8c9-4d0e-8f1a-2b3c4d5e6f70", "5f01dbbc68df27c17aa6ca84", -162371652, "10032000A1B2C3D7", 2, false, "gradyarchie"},
	{"isaiah.langer@contoso.onmicrosoft.com", "Isaiah Langer", "e5f6a7b8-c9d0-4e1f-9a2b-3c4d5e6f7081", "5f01dbbc68df27c17aa6ca85", -162371653, "10032000A1B2C3D8", 3, false, "ilanger"},
	{"lee.gu@contoso.onmicrosoft.com", "Lee Gu", "f6a7b8c9-d0e1-4f2a-8b3c-4d5e6f708192", "5f01dbbc68df27c17aa6ca86", -162371654, "10032000A1B2C3D9", 7, false, "leegu"},
	{"nestor.wilke@contoso.onmicrosoft.com", "Nestor Wilke", "a7b8c9d0-e1f2-4a3b-9c4d-5e6f708192a3", "5f01dbbc68df27c17aa6ca87", -162371655, "10032000A1B2C3DA", 4, false, "nwilke"},
	{"megan.bowen@contoso.onmicrosoft.com", "Megan Bowen", "b8c9d0e1-f2a3-4b4c-8d5e-6f708192a3b4", "5f01dbbc68df27c17aa6ca88", -162371656, "10032000A1B2C3DB", 0, true, "mbowen"},
	{"admin@contoso.onmicrosoft.com", "MOD Administrator", "c9d0e1f2-a3b4-4c5d-9e6f-708192a3b4c5", "5f01dbbc68df27c17aa6ca89", -162371657, "10032000A1B2C3DC", 5, true, "contoso-admin"},
}

// locInfo is a place activities come from. Its addresses are drawn from the
// documentation ranges (RFC 5737), 64 per place, so no real host is named.
type locInfo struct {
	country, city, regionCode, region string
	lat, long                         float64
	org                               string
	anonymous                         bool
	category                          int
	categoryValue                     string
}

var locs = []locInfo{
	{"US", "Redmond", "WA", "Washington", 47.6740, -122.1215, "Contoso Ltd", false, 1, "CORPORATE"},
	{"US", "New York", "NY", "New York", 40.7128, -74.0060, "Verizon Business", false, 0, "null"},
	{"GB", "London", "ENG", "England", 51.5072, -0.1276, "British Telecommunications PLC", false, 0, "null"},
	{"DE", "Berlin", "BE", "Land Berlin", 52.5200, 13.4050, "Deutsche Telekom AG", false, 0, "null"},
	{"FR", "Paris", "IDF", "Île-de-France", 48.8566, 2.3522, "Orange S.A.", false, 0, "null"},
	{"IL", "Tel Aviv", "TA", "Tel Aviv", 32.0679, 34.7604, "Cellcom Group", false, 0, "null"},
	{"IN", "Bengaluru", "KA", "Karnataka", 12.9716, 77.5946, "Bharti Airtel", false, 0, "null"},
	{"JP", "Tokyo", "13", "Tokyo", 35.6762, 139.6503, "NTT Communications Corporation", false, 0, "null"},
	{"BR", "São Paulo", "SP", "São Paulo", -23.5505, -46.6333, "Telefonica Brasil S.A", false, 0, "null"},
	{"AU", "Sydney", "NSW", "New South Wales", -33.8688, 151.2093, "Telstra Corporation", false, 0, "null"},
	{"NL", "Amsterdam", "NH", "North Holland", 52.3676, 4.9041, "Tor exit node", true, 3, "RISKY"},
	{"RU", "Moscow", "MOW", "Moscow", 55.7558, 37.6173, "Anonymous VPN", true, 3, "RISKY"},
}

var ipNets = [...]string{"192.0.2.", "198.51.100.", "203.0.113."}

// ip returns the address numbered n (0..63) of the place at index loc.
func ip(loc uint8, n uint64) string {
	block := int(loc) * 64
	return ipNets[(block/256)%len(ipNets)] + itoa(int64(block%256)+int64(n%64))
}

// uaInfo is a user agent and its parse, as MDA renders it.
type uaInfo struct {
	raw, family, name, osName, osFamily, typ, deviceType, os, browser string
	native                                                            bool
}

// Indexes into uas.
const (
	uaChrome = iota
	uaEdge
	uaSafariMac
	uaSafariIOS
	uaOutlook
	uaIOSMail
	uaOneDriveSync
	uaThumbnail
	uaTeams
	uaBoxDrive
	uaGit
)

var uas = []uaInfo{
	uaChrome:       {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "CHROME", "Chrome", "Windows 10", "WINDOWS", "Browser", "DESKTOP", "WINDOWS", "CHROME", false},
	uaEdge:         {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36 Edg/124.0.2478.80", "EDGE", "Microsoft Edge", "Windows 10", "WINDOWS", "Browser", "DESKTOP", "WINDOWS", "EDGE", false},
	uaSafariMac:    {"Mozilla/5.0 (Macintosh; Intel Mac OS X 10_15_7) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Safari/605.1.15", "SAFARI", "Safari", "macOS", "OS_X", "Browser", "DESKTOP", "OS_X", "SAFARI", false},
	uaSafariIOS:    {"Mozilla/5.0 (iPhone; CPU iPhone OS 17_4_1 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.4.1 Mobile/15E148 Safari/604.1", "MOBILE_SAFARI", "Mobile Safari", "iOS", "IOS", "Browser", "MOBILE", "IOS", "MOBILE_SAFARI", false},
	uaOutlook:      {"Microsoft Office/16.0 (Windows NT 10.0; Microsoft Outlook 16.0.17328; Pro)", "MICROSOFT_OUTLOOK", "Microsoft Outlook", "Windows 10", "WINDOWS", "Application", "DESKTOP", "WINDOWS", "MICROSOFT_OUTLOOK", true},
	uaIOSMail:      {"iOS/17.4.1 (21E236) dataaccessd/1.0", "IOS_MAIL", "iOS Mail", "iOS", "IOS", "Application", "MOBILE", "IOS", "IOS_MAIL", true},
	uaOneDriveSync: {"Microsoft SkyDriveSync 24.040.0225.0001 ship; Windows NT 10.0 (19045)", "MICROSOFT_ONEDRIVE_FOR_BUSINESS", "Microsoft OneDrive for Business", "Windows 10", "WINDOWS", "Application", "DESKTOP", "WINDOWS", "MICROSOFT_ONEDRIVE_FOR_BUSINESS", true},
	uaThumbnail:    {"OneDriveMpc-Transform_Thumbnail/1.0", "MICROSOFT_ONEDRIVE_FOR_BUSINESS", "Microsoft OneDrive for Business", "Unknown", "Unknown", "Application", "OTHER", "OTHER", "MICROSOFT_ONEDRIVE_FOR_BUSINESS", true},
	uaTeams:        {"Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0.0.0 Safari/537.36 Edg/120.0.0.0 Teams/24004.1307.2669.7070", "MICROSOFT_TEAMS", "Microsoft Teams", "Windows 10", "WINDOWS", "Application", "DESKTOP", "WINDOWS", "MICROSOFT_TEAMS", true},
	uaBoxDrive:     {"Box Drive/2.38.172 (Windows 10)", "BOX_DRIVE", "Box Drive", "Windows 10", "WINDOWS", "Application", "DESKTOP", "WINDOWS", "BOX_DRIVE", true},
	uaGit:          {"git/2.44.0", "GIT", "Git", "Unknown", "Unknown", "Application", "OTHER", "OTHER", "GIT", true},
}

var fileNames = []string{
	"Q3 forecast.xlsx", "Board deck.pptx", "Contract - Fabrikam.docx", "payroll-2024.xlsx",
	"design-spec.docx", "roadmap.pptx", "invoice-4471.pdf", "customer-list.csv",
	"architecture.vsdx", "meeting notes.docx", "budget.xlsx", "onboarding.pdf",
}

var teamNames = []string{"Mark 8 Project Team", "Retail", "Sales and Marketing", "Digital Initiative Public Relations", "U.S. Sales"}

var repoNames = []string{"webapp", "infra", "mobile-client", "data-pipeline", "docs"}

var reportNames = []string{"Pipeline by Stage", "Top Accounts", "Closed Won This Quarter", "Leads by Source"}

var roleNames = []string{"Global Administrator", "Exchange Administrator", "SharePoint Administrator", "Security Reader", "System Administrator"}

var mailSubjects = []string{"Re: Quarterly review", "Invoice attached", "Lunch on Friday?", "Updated contract", "Action required: expense report"}
