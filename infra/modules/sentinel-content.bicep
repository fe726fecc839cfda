// Sentinel content over MCAS_Activity_Log_CL and MCAS_Connector_Health_CL: the MCASActivity parser,
// scheduled analytics rules, hunting queries and a workbook. Every query lives in a plain file under
// infra/sentinel/ that can also be imported by hand (infra/README.md, "Sentinel content").
@description('The Sentinel workspace (in this resource group).')
param workspaceName string

@description('Region of the workbook resource.')
param location string

@description('The connector-stalled rule fires after this many minutes without progress.')
param stalledThresholdMinutes int

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// ---------------------------------------------------------------- parser

resource parser 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = {
  parent: workspace
  name: 'mcas-sentinel-parser-mcasactivity'
  properties: {
    category: 'Microsoft Sentinel Parser'
    displayName: 'MCASActivity: Defender for Cloud Apps activities (mcas-sentinel), de-duplicated'
    functionAlias: 'MCASActivity'
    functionParameters: 'starttime:datetime=datetime(null), endtime:datetime=datetime(null)'
    query: loadTextContent('../sentinel/parser/MCASActivity.kql')
    version: 2
  }
}

// ---------------------------------------------------------------- analytics rules

// Each file is a complete ARM template as Sentinel's Analytics > Import takes it; the rule's id and
// properties are read from it, so a rule imported by hand and the deployed one are the same rule.
var analyticsRules = [
  {
    id: loadJsonContent('../sentinel/analytics/ImpossibleTravel.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/ImpossibleTravel.json', '$.resources[0].properties')
  }
  {
    id: loadJsonContent('../sentinel/analytics/MassDownload.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/MassDownload.json', '$.resources[0].properties')
  }
  {
    id: loadJsonContent('../sentinel/analytics/MassDeletion.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/MassDeletion.json', '$.resources[0].properties')
  }
  {
    id: loadJsonContent('../sentinel/analytics/FailedLoginsThenSuccess.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/FailedLoginsThenSuccess.json', '$.resources[0].properties')
  }
  {
    id: loadJsonContent('../sentinel/analytics/AdminFromAnonymousProxyOrNewCountry.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/AdminFromAnonymousProxyOrNewCountry.json', '$.resources[0].properties')
  }
  {
    id: loadJsonContent('../sentinel/analytics/ConnectorStalled.json', '$.metadata.ruleId')
    properties: loadJsonContent('../sentinel/analytics/ConnectorStalled.json', '$.resources[0].properties')
  }
]

// The connector-stalled rule's threshold is a line of its query; the other queries lack that line.
var stalledThresholdLine = 'let stalledAfter = 30m;'

resource rules 'Microsoft.SecurityInsights/alertRules@2024-09-01' = [for rule in analyticsRules: {
  name: rule.id
  scope: workspace
  kind: 'Scheduled'
  properties: union(rule.properties, {
    query: replace(rule.properties.query, stalledThresholdLine, 'let stalledAfter = ${stalledThresholdMinutes}m;')
  })
  dependsOn: [
    parser
  ]
}]

// ---------------------------------------------------------------- hunting queries

// The .kql files start with the same name, description, tactics and techniques as comments.
var huntingQueries = [
  {
    name: 'mcas-sentinel-hunt-new-apps-per-user'
    displayName: 'MCAS - New cloud apps per user'
    description: 'Cloud apps each user used in the last day and not in the 14 days before: new SaaS use, OAuth grants to unfamiliar apps, or a stolen account exploring.'
    tactics: 'InitialAccess,Exfiltration'
    techniques: 'T1078,T1567'
    query: loadTextContent('../sentinel/hunting/NewAppsPerUser.kql')
  }
  {
    name: 'mcas-sentinel-hunt-rare-user-agents'
    displayName: 'MCAS - Rare user agents'
    description: 'User agents seen for at most two users and fewer than 20 activities in 14 days, and active in the last day: scripts, attack tools and unusual clients.'
    tactics: 'InitialAccess,DefenseEvasion'
    techniques: 'T1078,T1550'
    query: loadTextContent('../sentinel/hunting/RareUserAgents.kql')
  }
  {
    name: 'mcas-sentinel-hunt-off-hours-admin-actions'
    displayName: 'MCAS - Admin actions outside working hours'
    description: 'Administrative activities in the last 7 days outside working hours (07:00-19:00 UTC, Monday to Friday; set workStart, workEnd and weekend for your organisation).'
    tactics: 'Persistence,PrivilegeEscalation'
    techniques: 'T1078,T1098'
    query: loadTextContent('../sentinel/hunting/OffHoursAdminActions.kql')
  }
  {
    name: 'mcas-sentinel-hunt-unmanaged-device-downloads'
    displayName: 'MCAS - Downloads from unmanaged devices'
    description: 'File downloads in the last 7 days from devices without Defender for Cloud Apps device tags (not Intune compliant, not Hybrid Azure AD joined, no valid client certificate) and from outside corporate IP ranges.'
    tactics: 'Collection,Exfiltration'
    techniques: 'T1530,T1567'
    query: loadTextContent('../sentinel/hunting/UnmanagedDeviceDownloads.kql')
  }
]

resource hunts 'Microsoft.OperationalInsights/workspaces/savedSearches@2020-08-01' = [for hunt in huntingQueries: {
  parent: workspace
  name: hunt.name
  properties: {
    category: 'Hunting Queries'
    displayName: hunt.displayName
    query: hunt.query
    version: 2
    tags: [
      {
        name: 'description'
        value: hunt.description
      }
      {
        name: 'tactics'
        value: hunt.tactics
      }
      {
        name: 'techniques'
        value: hunt.techniques
      }
    ]
  }
  dependsOn: [
    parser
  ]
}]

// ---------------------------------------------------------------- workbook

resource workbook 'Microsoft.Insights/workbooks@2023-06-01' = {
  name: guid(workspace.id, 'mcas-sentinel-workbook')
  location: location
  kind: 'shared'
  properties: {
    displayName: 'MCAS activities and connector health (mcas-sentinel)'
    category: 'sentinel'
    sourceId: workspace.id
    version: '1.0'
    serializedData: loadTextContent('../sentinel/workbook/MCASActivity.workbook.json')
  }
  dependsOn: [
    parser
  ]
}

output ruleIds array = [for (rule, i) in analyticsRules: rules[i].name]
