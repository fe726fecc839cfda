// The two custom tables and Sentinel onboarding, deployed in the workspace's own resource group
// (which may be another subscription's when main.bicep is given an existing workspace).
@description('The Log Analytics workspace, which must exist.')
param workspaceName string

@description('The column schema of MCAS_Activity_Log_CL (schema/MCAS_Activity_Log_CL.json).')
param activitySchema object

@description('The column schema of MCAS_Connector_Health_CL (schema/MCAS_Connector_Health_CL.json).')
param healthSchema object

@description('Retention of the tables, in days.')
param retentionInDays int

@description('Onboard the workspace to Microsoft Sentinel.')
param onboardSentinel bool

resource workspace 'Microsoft.OperationalInsights/workspaces@2023-09-01' existing = {
  name: workspaceName
}

// One table per schema file; the columns are the file's, in its order, with its descriptions.
resource tables 'Microsoft.OperationalInsights/workspaces/tables@2022-10-01' = [for schema in [activitySchema, healthSchema]: {
  parent: workspace
  name: schema.table
  properties: {
    plan: 'Analytics'
    retentionInDays: retentionInDays
    schema: {
      name: schema.table
      description: schema.description
      columns: map(schema.columns, column => {
        name: column.name
        type: column.type
        description: column.description
      })
    }
  }
}]

resource sentinel 'Microsoft.SecurityInsights/onboardingStates@2024-09-01' = if (onboardSentinel) {
  name: 'default'
  scope: workspace
  properties: {}
}

output tableNames array = [for (schema, i) in [activitySchema, healthSchema]: tables[i].name]
