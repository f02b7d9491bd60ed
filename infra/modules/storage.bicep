// The Function App's storage account: AzureWebJobsStorage, the Durable Task hub's queues, tables and blobs, and the
// blob container Flex Consumption deploys the app package from. No shared key: everything reaches it with an identity.

param location string
param accountName string
param deploymentContainerName string
param tags object

resource account 'Microsoft.Storage/storageAccounts@2024-01-01' = {
  name: accountName
  location: location
  tags: tags
  kind: 'StorageV2'
  sku: {
    name: 'Standard_LRS'
  }
  properties: {
    minimumTlsVersion: 'TLS1_2'
    supportsHttpsTrafficOnly: true
    allowBlobPublicAccess: false
    // The app uses its managed identity (AzureWebJobsStorage__accountName); no key exists to leak or rotate.
    allowSharedKeyAccess: false
    defaultToOAuthAuthentication: true
  }
}

resource blobs 'Microsoft.Storage/storageAccounts/blobServices@2024-01-01' = {
  parent: account
  name: 'default'
}

resource deploymentContainer 'Microsoft.Storage/storageAccounts/blobServices/containers@2024-01-01' = {
  parent: blobs
  name: deploymentContainerName
}

output accountName string = account.name
output deploymentContainerUrl string = '${account.properties.primaryEndpoints.blob}${deploymentContainer.name}'
output queueEndpoint string = account.properties.primaryEndpoints.queue
