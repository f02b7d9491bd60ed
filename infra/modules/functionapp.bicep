// The Qlaw.Functions app on a Flex Consumption plan (Linux, .NET 10 isolated worker) with a system-assigned identity.
// Flex Consumption takes the worker runtime and its version from functionAppConfig.runtime and always runs Functions
// 4.x: it rejects the FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION app settings that Y1 plans need.

param location string
param planName string
param appName string
param storageAccountName string
param deploymentContainerUrl string
@description('The account\'s queue endpoint: ConnectionStrings__DurableStorage, reached with the app\'s identity.')
param queueEndpoint string
param applicationInsightsName string
param keyVaultName string
@description('Subnet (delegated to Microsoft.App/environments) the app\'s outbound traffic leaves through.')
param subnetId string
@description('Qlaw\'s own settings (Key Vault references for secrets, Database__…, Models__…) as name/value pairs.')
param qlawSettings object
param maximumInstanceCount int
param instanceMemoryMB int
param tags object

resource storage 'Microsoft.Storage/storageAccounts@2024-01-01' existing = {
  name: storageAccountName
}

resource appInsights 'Microsoft.Insights/components@2020-02-02' existing = {
  name: applicationInsightsName
}

resource vault 'Microsoft.KeyVault/vaults@2023-07-01' existing = {
  name: keyVaultName
}

resource plan 'Microsoft.Web/serverfarms@2024-11-01' = {
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

// Identity-based connections: the Functions host and the Durable extension use AzureWebJobsStorage__accountName with
// the system-assigned identity; Qlaw's readiness check takes the queue endpoint. No account key anywhere.
var platformSettings = [
  { name: 'AzureWebJobsStorage__accountName', value: storage.name }
  { name: 'ConnectionStrings__DurableStorage', value: queueEndpoint }
  { name: 'APPLICATIONINSIGHTS_CONNECTION_STRING', value: appInsights.properties.ConnectionString }
]

resource app 'Microsoft.Web/sites@2024-11-01' = {
  name: appName
  location: location
  tags: tags
  kind: 'functionapp,linux'
  identity: {
    type: 'SystemAssigned'
  }
  properties: {
    serverFarmId: plan.id
    httpsOnly: true
    virtualNetworkSubnetId: subnetId
    keyVaultReferenceIdentity: 'SystemAssigned'
    siteConfig: {
      appSettings: concat(
        platformSettings,
        map(items(qlawSettings), setting => { name: setting.key, value: setting.value })
      )
    }
    functionAppConfig: {
      deployment: {
        storage: {
          type: 'blobContainer'
          value: deploymentContainerUrl
          authentication: {
            type: 'SystemAssignedIdentity'
          }
        }
      }
      scaleAndConcurrency: {
        maximumInstanceCount: maximumInstanceCount
        instanceMemoryMB: instanceMemoryMB
      }
      runtime: {
        name: 'dotnet-isolated'
        version: '10.0'
      }
    }
  }
}

// What the app's identity may do. Storage, as the Durable Task hub and the Functions host need it: blobs (leases and
// large messages; also the deployment package), queues, tables (history and instances). Key Vault: read secrets.
var storageRoles = [
  'b7e6dc6d-f1e8-4753-8033-0f276bb0955b' // Storage Blob Data Owner
  '974c5e8b-45b9-4653-ba55-5f855dd0fb88' // Storage Queue Data Contributor
  '0a9a7e1f-b9d0-4cc4-a60d-0319b160aaa3' // Storage Table Data Contributor
]

resource storageAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = [
  for role in storageRoles: {
    name: guid(storage.id, app.id, role)
    scope: storage
    properties: {
      roleDefinitionId: subscriptionResourceId('Microsoft.Authorization/roleDefinitions', role)
      principalId: app.identity.principalId
      principalType: 'ServicePrincipal'
    }
  }
]

var keyVaultSecretsUser = subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '4633458b-17de-408a-b874-0445c86b69e6')

resource secretsAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(vault.id, app.id, keyVaultSecretsUser)
  scope: vault
  properties: {
    roleDefinitionId: keyVaultSecretsUser
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
output principalId string = app.identity.principalId
