// The Function App on Flex Consumption (Linux, runtime `custom`) and its app settings: exactly the
// settings the connector reads (SPEC.md) plus the platform's own, with no secret among them.
@description('Function App name (globally unique).')
param name string

@description('Flex Consumption plan name.')
param planName string

@description('Region.')
param location string

@description('Resource tags (azd-service-name included).')
param tags object

@allowed([
  'SystemAssigned'
  'UserAssigned'
])
@description('The app\'s identity.')
param identityType string

@description('Resource id of the user-assigned identity (UserAssigned only).')
param userAssignedIdentityId string

@description('Client id of the user-assigned identity (UserAssigned only).')
param userAssignedClientId string

@description('Host storage account (AzureWebJobsStorage, by identity).')
param storageAccountName string

@description('URL of the blob container that holds the deployment package.')
param deploymentContainerUrl string

@description('Application Insights connection string (not a credential: local authentication is off).')
param applicationInsightsConnectionString string

@description('MCAS_API_URL')
param mcasApiUrl string

@description('KEY_VAULT_URI')
param keyVaultUri string

@description('MCAS_TOKEN_SECRET_NAME')
param mcasTokenSecretName string

@description('LOGS_INGESTION_ENDPOINT')
param logsIngestionEndpoint string

@description('LOGS_INGESTION_RULE_ID')
param logsIngestionRuleId string

@description('LOGS_INGESTION_STREAM')
param activityStream string

@description('LOGS_INGESTION_HEALTH_STREAM')
param healthStream string

@description('CHECKPOINT_STORAGE__tableServiceUri')
param checkpointTableServiceUri string

@description('CHECKPOINT_TABLE')
param checkpointTableName string

@description('MCAS_SCHEDULE')
param schedule string

@description('MCAS_INITIAL_LOOKBACK')
param initialLookback string

@description('MCAS_SETTLE_DELAY')
param settleDelay string

@description('MCAS_RUN_BUDGET')
param runBudget string

@description('MCAS_REQUESTS_PER_MINUTE')
param requestsPerMinute int

@description('MCAS_SCAN_MODE')
param scanMode bool

@description('MCAS_FILTERS (JSON object; empty: not set)')
param mcasFilters string

var userAssigned = identityType == 'UserAssigned'

resource plan 'Microsoft.Web/serverfarms@2024-04-01' = {
  name: planName
  location: location
  tags: tags
  kind: 'functionapp'
  sku: {
    tier: 'FlexConsumption'
    name: 'FC1'
  }
  properties: {
    reserved: true
  }
}

resource app 'Microsoft.Web/sites@2024-04-01' = {
  name: name
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: userAssigned
    ? {
        type: 'UserAssigned'
        userAssignedIdentities: {
          '${userAssignedIdentityId}': {}
        }
      }
    : {
        type: 'SystemAssigned'
      }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    siteConfig: {
      minTlsVersion: '1.2'
      ftpsState: 'Disabled'
      http20Enabled: true
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: userAssigned
            ? {
                type: 'UserAssignedIdentity'
                userAssignedIdentityResourceId: userAssignedIdentityId
              }
            : {
                type: 'SystemAssignedIdentity'
              }
        }
      }
      scaleAndConcurrency: {
        // The timer runs on one instance at a time (a blob lease); the Go binary needs little memory.
        instanceMemoryMB: 512
        maximumInstanceCount: 40
      }
      runtime: {
        name: 'custom'
        version: '1.0'
      }
    }
  }
}

// Deployment happens with Entra ID (azd, az functionapp deployment): no publishing passwords.
resource ftpCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'ftp'
  properties: {
    allow: false
  }
}

resource scmCredentials 'Microsoft.Web/sites/basicPublishingCredentialsPolicies@2024-04-01' = {
  parent: app
  name: 'scm'
  properties: {
    allow: false
  }
}

// Platform settings: host storage and Application Insights, both through the managed identity.
var platformSettings = {
  AzureWebJobsStorage__accountName: storageAccountName
  APPLICATIONINSIGHTS_CONNECTION_STRING: applicationInsightsConnectionString
}

var identitySettings = userAssigned
  ? {
      AzureWebJobsStorage__credential: 'managedidentity'
      AzureWebJobsStorage__clientId: userAssignedClientId
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'ClientId=${userAssignedClientId};Authorization=AAD'
      AZURE_CLIENT_ID: userAssignedClientId
    }
  : {
      APPLICATIONINSIGHTS_AUTHENTICATION_STRING: 'Authorization=AAD'
    }

// The connector's settings (SPEC.md, "Settings"). CHECKPOINT_STORAGE, a connection string, is
// deliberately absent: the checkpoint table is reached by identity.
var connectorSettings = {
  MCAS_API_URL: mcasApiUrl
  KEY_VAULT_URI: keyVaultUri
  MCAS_TOKEN_SECRET_NAME: mcasTokenSecretName
  LOGS_INGESTION_ENDPOINT: logsIngestionEndpoint
  LOGS_INGESTION_RULE_ID: logsIngestionRuleId
  LOGS_INGESTION_STREAM: activityStream
  LOGS_INGESTION_HEALTH_STREAM: healthStream
  CHECKPOINT_STORAGE__tableServiceUri: checkpointTableServiceUri
  CHECKPOINT_TABLE: checkpointTableName
  MCAS_SCHEDULE: schedule
  MCAS_INITIAL_LOOKBACK: initialLookback
  MCAS_SETTLE_DELAY: settleDelay
  MCAS_RUN_BUDGET: runBudget
  MCAS_REQUESTS_PER_MINUTE: string(requestsPerMinute)
  MCAS_SCAN_MODE: scanMode ? 'true' : 'false'
}

var filterSettings = empty(mcasFilters)
  ? {}
  : {
      MCAS_FILTERS: mcasFilters
    }

var appSettings = union(platformSettings, identitySettings, connectorSettings, filterSettings)

resource settings 'Microsoft.Web/sites/config@2024-04-01' = {
  parent: app
  name: 'appsettings'
  properties: appSettings
}

output name string = app.name
// Empty with a user-assigned identity (main.bicep then uses the identity's own principal id).
output principalId string = userAssigned ? '' : app.identity.principalId
