// mcas-sentinel: everything the connector needs, in one resource group, from zero.
//
//   azd up                                   (azure.yaml at the repository root)
//   az deployment group create -g <rg> -f infra/main.bicep -p mcasApiUrl=... mcasApiToken=...
//
// Identity only: no connection string, key or token is ever written to an app setting.
// infra/README.md explains every resource and every role assignment.
targetScope = 'resourceGroup'

// ---------------------------------------------------------------- parameters

@minLength(1)
@maxLength(40)
@description('Short name of this deployment (azd: the environment name). Used in resource names and tags.')
param environmentName string = 'mcas'

@description('Region of the Function App, its storage, Key Vault and Application Insights.')
param location string = resourceGroup().location

@description('Region of the new Log Analytics workspace, the data collection endpoint and the data collection rule. With an existing workspace, give the workspace\'s region.')
param logAnalyticsLocation string = location

@description('The Defender for Cloud Apps API base URL, https://<tenant>.<region>.portal.cloudappsecurity.com (Settings > Cloud Apps > API tokens).')
param mcasApiUrl string

@secure()
@description('The Defender for Cloud Apps API token. Required on the first deployment; leave empty later to keep the secret already in Key Vault (rotate it there).')
param mcasApiToken string = ''

@description('Name of the Key Vault secret that holds the API token.')
param mcasTokenSecretName string = 'mcas-api-token'

@description('Resource id of an existing Log Analytics workspace to send the activities to. Empty: create one.')
param existingWorkspaceResourceId string = ''

@description('Onboard the workspace to Microsoft Sentinel. Set false when it already is and you lack the rights to touch that.')
param onboardSentinel bool = true

@description('Deploy the parser, analytics rules, hunting queries and workbook.')
param deploySentinelContent bool = true

@allowed([
  'SystemAssigned'
  'UserAssigned'
])
@description('The Function App\'s identity. UserAssigned creates an identity and sets AZURE_CLIENT_ID.')
param identityType string = 'SystemAssigned'

@description('NCRONTAB schedule of the timer trigger (six fields, UTC).')
param schedule string = '0 */5 * * * *'

@description('On the first run, how far back to start (Go duration).')
param initialLookback string = '24h'

@description('How long after its created time an activity may still become visible in the API (Go duration).')
param settleDelay string = '2m'

@description('The longest one invocation works; must stay under host.json functionTimeout (00:10:00).')
param runBudget string = '8m'

@minValue(1)
@maxValue(30)
@description('The most Defender for Cloud Apps API calls in any 60 seconds (the tenant-wide limit is 30).')
param requestsPerMinute int = 30

@description('Read with the API\'s scan mode (isScan) instead of 100-row pages.')
param scanMode bool = false

@description('Extra Activities API filters as a JSON object, e.g. {"service":{"eq":[11161]}}. Empty: none.')
param mcasFilters string = ''

@description('The table that holds the checkpoint, in the Function App\'s storage account.')
param checkpointTableName string = 'mcascheckpoints'

@allowed([
  'table'
  'storageAccount'
])
@description('Scope of Storage Table Data Contributor: the checkpoint table only (default), or the whole storage account if the connector must create tables itself.')
param checkpointRoleScope string = 'table'

@minValue(10)
@maxValue(1440)
@description('The connector-stalled analytics rule fires when the connector has not made progress for this many minutes.')
param stalledThresholdMinutes int = 30

@minValue(30)
@maxValue(730)
@description('Retention of the two custom tables, in days (Sentinel includes 90 days).')
param retentionInDays int = 90

@description('Turn on Key Vault purge protection (the vault name then stays reserved for 90 days after deletion).')
param keyVaultPurgeProtection bool = false

@description('Tags for every resource.')
param tags object = {}

// ---------------------------------------------------------------- names

// The column schemas are the single source of truth for both tables (schema/*.json).
var activitySchema = loadJsonContent('../schema/MCAS_Activity_Log_CL.json')
var healthSchema = loadJsonContent('../schema/MCAS_Connector_Health_CL.json')

var token = toLower(uniqueString(subscription().id, resourceGroup().id, environmentName))
var allTags = union(tags, { 'azd-env-name': environmentName, application: 'mcas-sentinel' })
var createWorkspace = empty(existingWorkspaceResourceId)
var workspaceName = createWorkspace ? 'log-mcas-${token}' : last(split(existingWorkspaceResourceId, '/'))
var workspaceSubscriptionId = createWorkspace ? subscription().subscriptionId : split(existingWorkspaceResourceId, '/')[2]
var workspaceResourceGroup = createWorkspace ? resourceGroup().name : split(existingWorkspaceResourceId, '/')[4]
var workspaceId = createWorkspace
  ? resourceId('Microsoft.OperationalInsights/workspaces', workspaceName)
  : existingWorkspaceResourceId
var functionAppName = 'func-mcas-${token}'
// The service name azd deploys the package to (azure.yaml services key).
var azdServiceName = 'mcas-sentinel'

// ---------------------------------------------------------------- resources

resource userIdentity 'Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31' = if (identityType == 'UserAssigned') {
  name: 'id-mcas-${token}'
  location: location
  tags: allTags
}

module workspace 'modules/log-analytics.bicep' = if (createWorkspace) {
  name: 'mcas-workspace'
  params: {
    name: workspaceName
    location: logAnalyticsLocation
    tags: allTags
  }
}

module tables 'modules/sentinel-workspace.bicep' = {
  name: 'mcas-tables'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    activitySchema: activitySchema
    healthSchema: healthSchema
    retentionInDays: retentionInDays
    onboardSentinel: onboardSentinel
  }
  dependsOn: [
    workspace
  ]
}

module ingestion 'modules/ingestion.bicep' = {
  name: 'mcas-ingestion'
  params: {
    location: logAnalyticsLocation
    tags: allTags
    endpointName: 'dce-mcas-${token}'
    ruleName: 'dcr-mcas-${token}'
    workspaceResourceId: workspaceId
    activitySchema: activitySchema
    healthSchema: healthSchema
  }
  dependsOn: [
    tables
  ]
}

module monitoring 'modules/monitoring.bicep' = {
  name: 'mcas-monitoring'
  params: {
    location: location
    tags: allTags
    workspaceName: 'log-mcas-ops-${token}'
    applicationInsightsName: 'appi-mcas-${token}'
  }
}

module storage 'modules/storage.bicep' = {
  name: 'mcas-storage'
  params: {
    name: 'stmcas${token}'
    location: location
    tags: allTags
    deploymentContainerName: 'app-package'
    checkpointTableName: checkpointTableName
  }
}

module vault 'modules/key-vault.bicep' = {
  name: 'mcas-key-vault'
  params: {
    name: 'kv-mcas-${token}'
    location: location
    tags: allTags
    secretName: mcasTokenSecretName
    secretValue: mcasApiToken
    purgeProtection: keyVaultPurgeProtection
  }
}

module functionApp 'modules/function-app.bicep' = {
  name: 'mcas-function-app'
  params: {
    name: functionAppName
    planName: 'asp-mcas-${token}'
    location: location
    tags: union(allTags, { 'azd-service-name': azdServiceName })
    identityType: identityType
    userAssignedIdentityId: identityType == 'UserAssigned' ? userIdentity!.id : ''
    userAssignedClientId: identityType == 'UserAssigned' ? userIdentity!.properties.clientId : ''
    storageAccountName: storage.outputs.name
    deploymentContainerUrl: storage.outputs.deploymentContainerUrl
    applicationInsightsConnectionString: monitoring.outputs.connectionString
    mcasApiUrl: mcasApiUrl
    keyVaultUri: vault.outputs.uri
    mcasTokenSecretName: mcasTokenSecretName
    logsIngestionEndpoint: ingestion.outputs.logsIngestionEndpoint
    logsIngestionRuleId: ingestion.outputs.immutableId
    activityStream: activitySchema.stream
    healthStream: healthSchema.stream
    checkpointTableServiceUri: storage.outputs.tableEndpoint
    checkpointTableName: checkpointTableName
    schedule: schedule
    initialLookback: initialLookback
    settleDelay: settleDelay
    runBudget: runBudget
    requestsPerMinute: requestsPerMinute
    scanMode: scanMode
    mcasFilters: mcasFilters
  }
}

module roles 'modules/role-assignments.bicep' = {
  name: 'mcas-role-assignments'
  params: {
    principalId: identityType == 'UserAssigned' ? userIdentity!.properties.principalId : functionApp.outputs.principalId
    storageAccountName: storage.outputs.name
    checkpointTableName: checkpointTableName
    checkpointRoleScope: checkpointRoleScope
    keyVaultName: vault.outputs.name
    secretName: vault.outputs.secretName
    dataCollectionRuleName: ingestion.outputs.ruleName
    applicationInsightsName: monitoring.outputs.applicationInsightsName
  }
}

module sentinelContent 'modules/sentinel-content.bicep' = if (deploySentinelContent) {
  name: 'mcas-sentinel-content'
  scope: resourceGroup(workspaceSubscriptionId, workspaceResourceGroup)
  params: {
    workspaceName: workspaceName
    location: logAnalyticsLocation
    stalledThresholdMinutes: stalledThresholdMinutes
  }
  dependsOn: [
    tables
  ]
}

// ---------------------------------------------------------------- outputs (azd stores them in .azure/<env>/.env)

output AZURE_LOCATION string = location
output AZURE_RESOURCE_GROUP string = resourceGroup().name
output AZURE_FUNCTION_APP_NAME string = functionApp.outputs.name
output AZURE_KEY_VAULT_NAME string = vault.outputs.name
output MCAS_TOKEN_SECRET_NAME string = mcasTokenSecretName
output LOGS_INGESTION_ENDPOINT string = ingestion.outputs.logsIngestionEndpoint
output LOGS_INGESTION_RULE_ID string = ingestion.outputs.immutableId
output LOG_ANALYTICS_WORKSPACE_ID string = workspaceId
output STORAGE_ACCOUNT_NAME string = storage.outputs.name
