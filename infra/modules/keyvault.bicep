// Key Vault for the app's secrets: the PostgreSQL connection string of the app's own role and the model key. The app
// reads them through Key Vault references with its managed identity (Key Vault Secrets User, granted in
// functionapp.bicep); no secret is an app setting.

param location string
param vaultName string
@description('Secrets to store, as name/value pairs; empty values are left out.')
@secure()
param secrets object
param tags object

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' = {
  name: vaultName
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
    softDeleteRetentionInDays: 7
  }
}

resource secret 'Microsoft.KeyVault/vaults/secrets@2023-07-01' = [
  for item in filter(items(secrets), item => !empty(item.value)): {
    parent: vault
    name: item.key
    properties: {
      value: item.value
    }
  }
]

output name string = vault.name
