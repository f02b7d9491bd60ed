// The Qlaw.Functions app on a Flex Consumption plan (Linux, .NET 10 isolated worker) with a system-assigned identity.
// Flex Consumption takes the worker runtime and its version from functionAppConfig.runtime and always runs Functions
// 4.x: it rejects the FUNCTIONS_WORKER_RUNTIME and FUNCTIONS_EXTENSION_VERSION app settings that Y1 plans need.

param location string
param planName string
param appName string
param storageAccountName string
param deploymentContainerUrl string
param applicationInsightsName string
@description('Qlaw\'s own settings (ConnectionStrings__Postgres, Database__…, Models__…) as name/value pairs.')
@secure()
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

var storageConnectionString = 'DefaultEndpointsProtocol=https;AccountName=${storage.name};AccountKey=${storage.listKeys().keys[0].value};EndpointSuffix=${environment().suffixes.storage}'

var platformSettings = [
  { name: 'AzureWebJobsStorage', value: storageConnectionString }
  { name: 'ConnectionStrings__DurableStorage', value: storageConnectionString }
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

// The app reads its deployment package with its identity: Storage Blob Data Contributor on the account.
var blobDataContributor = subscriptionResourceId(
  'Microsoft.Authorization/roleDefinitions',
  'ba92f5b4-2d11-453d-a403-e96b0029c9fe'
)

resource deploymentAccess 'Microsoft.Authorization/roleAssignments@2022-04-01' = {
  name: guid(storage.id, app.id, blobDataContributor)
  scope: storage
  properties: {
    roleDefinitionId: blobDataContributor
    principalId: app.identity.principalId
    principalType: 'ServicePrincipal'
  }
}

output name string = app.name
output defaultHostName string = app.properties.defaultHostName
output principalId string = app.identity.principalId
