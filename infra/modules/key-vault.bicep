// Key Vault in RBAC mode holding the Defender for Cloud Apps API token. The secret is written only
// when a value is given, so a later deployment without the token keeps the one in the vault (for
// instance after a rotation with `az keyvault secret set`).
@description('Vault name (3-24 characters, globally unique).')
param name string

@description('Region.')
param location string

@description('Resource tags.')
param tags object

@description('Name of the secret that holds the API token.')
param secretName string

@secure()
@description('The API token; empty keeps the current secret.')
param secretValue string

@description('Turn on purge protection.')
param purgeProtection bool

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: name
  location: location
  tags: tags
  properties: {
    tenantId: subscription().tenantId
    sku: {
      family: 'A'
      name: 'standard'
    }
    enableRbacAuthorization: true
    enableSoftDelete: true
    softDeleteRetentionInDays: 90
    // Purge protection cannot be turned off once on, and false is not an accepted value: omit it.
    enablePurgeProtection: purgeProtection ? true : null
    publicNetworkAccess: 'Enabled'
    networkAcls: {
      defaultAction: 'Allow'
      bypass: 'AzureServices'
    }
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = if (!empty(secretValue)) {
  parent: vault
  name: secretName
  properties: {
    value: secretValue
    contentType: 'Defender for Cloud Apps API token'
  }
}

output name string = vault.name
output uri string = vault.properties.vaultUri
// Referenced by the role assignment on the secret, which must wait for the secret to be written.
output secretName string = empty(secretValue) ? secretName : secret!.name
