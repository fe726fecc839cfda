// A new Log Analytics workspace for the activities (main.bicep skips this with an existing one).
@description('Workspace name.')
param name string

@description('Workspace region.')
param location string

@description('Resource tags.')
param tags object

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    // Sentinel includes 90 days of retention at no extra charge.
    retentionInDays: 90
    features: {
      // Only Entra ID: no workspace-key ingestion (the retired Data Collector API used one).
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
    publicNetworkAccessForIngestion: 'Enabled'
    publicNetworkAccessForQuery: 'Enabled'
  }
}

output id string = workspace.id
output name string = workspace.name
