// Every permission the Function App's identity holds, each at the narrowest scope that works.
// infra/README.md ("Role assignments") says why each one exists.
@description('Object (principal) id of the Function App\'s managed identity.')
param principalId string

@description('The Function App\'s storage account.')
param storageAccountName string

@description('The checkpoint table in that account.')
param checkpointTableName string

@allowed([
  'table'
  'storageAccount'
])
@description('Scope of Storage Table Data Contributor.')
param checkpointRoleScope string

@description('The Key Vault that holds the API token.')
param keyVaultName string

@description('The secret that holds the API token.')
param secretName string

@description('The data collection rule the connector uploads through.')
param dataCollectionRuleName string

@description('The Application Insights component the host sends telemetry to.')
param applicationInsightsName string

// Built-in role definition ids (the same in every Azure cloud).
var roles = {
  storageBlobDataOwner: 'b7e6dc6d-f1e8-4753-8033-0f276bb0955b'
  storageTableDataContributor: '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3'
  keyVaultSecretsUser: '4633458b-17de-408a-b874-0445c86b69e6'
  monitoringMetricsPublisher: '3913510d-42f4-4e42-8a64-420c390055eb'
}

resource storageAccount 'Microsoft.Storage/storageAccounts@2023-05-01' existing = {
  name: storageAccountName

  resource tableService 'tableServices' existing = {
    name: 'default'

    resource checkpointTable 'tables' existing = {
      name: checkpointTableName
    }
  }
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName

  resource tokenSecret 'secrets' existing = {
    name: secretName
  }
}

resource dataCollectionRule 'Microsoft.Insights/dataCollectionRules@2023-03-11' existing = {
  name: dataCollectionRuleName
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

// Host storage: the Functions host keeps timer locks and schedule status in blob containers it
// creates itself, and Flex Consumption reads the deployment package from a container.
resource hostStorage 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storageAccount.id, principalId, roles.storageBlobDataOwner)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageBlobDataOwner)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: Functions host storage and deployment package (blobs)'
  }
}

// The checkpoint: read, insert and conditional update of one entity in one table.
resource checkpointOnTable 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (checkpointRoleScope == 'table') {
  name: guid(storageAccount::tableService::checkpointTable.id, principalId, roles.storageTableDataContributor)
  scope: storageAccount::tableService::checkpointTable
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: the checkpoint table'
  }
}

resource checkpointOnAccount 'Microsoft.Authorization/roleAssignments@2022-04-01' = if (checkpointRoleScope == 'storageAccount') {
  name: guid(storageAccount.id, principalId, roles.storageTableDataContributor)
  scope: storageAccount
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.storageTableDataContributor)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: the checkpoint table (account scope)'
  }
}

// The API token: read one secret, and nothing else in the vault.
resource tokenReader 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault::tokenSecret.id, principalId, roles.keyVaultSecretsUser)
  scope: vault::tokenSecret
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.keyVaultSecretsUser)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: read the Defender for Cloud Apps API token'
  }
}

// Logs Ingestion API: upload to this data collection rule only.
resource ingestionPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(dataCollectionRule.id, principalId, roles.monitoringMetricsPublisher)
  scope: dataCollectionRule
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: upload activities and health rows to the data collection rule'
  }
}

// Application Insights with local authentication off accepts telemetry only from Entra ID
// identities that hold this role on the component.
resource telemetryPublisher 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(applicationInsights.id, principalId, roles.monitoringMetricsPublisher)
  scope: applicationInsights
  properties: {
    roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', roles.monitoringMetricsPublisher)
    principalId: principalId
    principalType: 'ServicePrincipal'
    description: 'mcas-sentinel: Functions host telemetry to Application Insights (Entra ID)'
  }
}
