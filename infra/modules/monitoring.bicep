// Application Insights for the Function App, on a small workspace of its own: host telemetry is
// not security data and would otherwise be billed at Sentinel rates. Local (key) authentication is
// off, so only Entra ID identities holding Monitoring Metrics Publisher can send telemetry.
@description('Region.')
param location string

@description('Resource tags.')
param tags object

@description('Name of the operations workspace behind Application Insights.')
param workspaceName string

@description('Name of the Application Insights component.')
param applicationInsightsName string

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' = {
  name: workspaceName
  location: location
  tags: tags
  properties: {
    sku: {
      name: 'PerGB2018'
    }
    retentionInDays: 30
    features: {
      disableLocalAuth: true
      enableLogAccessUsingOnlyResourcePermissions: true
    }
  }
}

resource applicationInsights 'Microsoft.Insights/components@2020-02-02' = {
  name: applicationInsightsName
  location: location
  tags: tags
  kind: 'web'
  properties: {
    Application_Type: 'web'
    WorkspaceResourceId: workspace.id
    DisableLocalAuth: true
    IngestionMode: 'LogAnalytics'
  }
}

// The connection string names the component; with local authentication off it grants nothing.
output connectionString string = applicationInsights.properties.ConnectionString
output applicationInsightsName string = applicationInsights.name
