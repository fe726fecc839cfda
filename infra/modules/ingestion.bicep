// The data collection endpoint and the one data collection rule with two streams: activities and
// health rows. Both stream declarations come from the schema files, and the transform is `source`,
// so every column, TimeGenerated included, lands exactly as the connector sent it.
@description('Region: the workspace\'s.')
param location string

@description('Resource tags.')
param tags object

@description('Name of the data collection endpoint.')
param endpointName string

@description('Name of the data collection rule.')
param ruleName string

@description('The destination Log Analytics workspace.')
param workspaceResourceId string

@description('The column schema of MCAS_Activity_Log_CL.')
param activitySchema object

@description('The column schema of MCAS_Connector_Health_CL.')
param healthSchema object

var destination = 'sentinelWorkspace'

resource endpoint 'Microsoft.Insights/dataCollectionEndpoints@2023-03-11' = {
  name: endpointName
  location: location
  tags: tags
  properties: {
    networkAcls: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource rule 'Microsoft.Insights/dataCollectionRules@2023-03-11' = {
  name: ruleName
  location: location
  tags: tags
  properties: {
    description: 'mcas-sentinel: Defender for Cloud Apps activities and connector health rows, through the Logs Ingestion API.'
    dataCollectionEndpointId: endpoint.id
    streamDeclarations: {
      '${activitySchema.stream}': {
        columns: map(activitySchema.columns, column => {
          name: column.name
          type: column.type
        })
      }
      '${healthSchema.stream}': {
        columns: map(healthSchema.columns, column => {
          name: column.name
          type: column.type
        })
      }
    }
    destinations: {
      logAnalytics: [
        {
          name: destination
          workspaceResourceId: workspaceResourceId
        }
      ]
    }
    dataFlows: [
      {
        streams: [
          activitySchema.stream
        ]
        destinations: [
          destination
        ]
        transformKql: 'source'
        outputStream: 'Custom-${activitySchema.table}'
      }
      {
        streams: [
          healthSchema.stream
        ]
        destinations: [
          destination
        ]
        transformKql: 'source'
        outputStream: 'Custom-${healthSchema.table}'
      }
    ]
  }
}

output logsIngestionEndpoint string = endpoint.properties.logsIngestion.endpoint
output immutableId string = rule.properties.immutableId
output ruleName string = rule.name
