// PostgreSQL Flexible Server, Qlaw's system of record, with the database `qlaw`.

param location string
param serverName string
param administratorLogin string
@secure()
param administratorPassword string
param skuName string
param skuTier string
param version string
param storageSizeGB int
@description('The Function App\'s outbound address (its NAT gateway\'s): the only Azure address let in.')
param appOutboundIpAddress string
@description('Further ranges let in, e.g. an operator\'s machine or a CI runner for the migrate step: [{ name, startIpAddress, endIpAddress }].')
param allowedIpRanges array
@description('The Microsoft Entra administrator: it creates the app identity\'s role (the deploy script\'s grant step). { objectId, name, type: User | Group | ServicePrincipal }.')
param entraAdministrator object
param tags object

resource server 'Microsoft.DBforPostgreSQL/flexibleServers@2024-08-01' = {
  name: serverName
  location: location
  tags: tags
  sku: {
    name: skuName
    tier: skuTier
  }
  properties: {
    version: version
    administratorLogin: administratorLogin
    administratorLoginPassword: administratorPassword
    // Microsoft Entra ID for the app (its managed identity, a token as its password); the administrator's password only
    // for the deploy script's migrations.
    authConfig: {
      passwordAuth: 'Enabled'
      activeDirectoryAuth: 'Enabled'
      tenantId: subscription().tenantId
    }
    storage: {
      storageSizeGB: storageSizeGB
    }
    backup: {
      backupRetentionDays: 7
      geoRedundantBackup: 'Disabled'
    }
    highAvailability: {
      mode: 'Disabled'
    }
    network: {
      publicNetworkAccess: 'Enabled'
    }
  }
}

resource database 'Microsoft.DBforPostgreSQL/flexibleServers/databases@2024-08-01' = {
  parent: server
  name: 'qlaw'
  properties: {
    charset: 'UTF8'
    collation: 'en_US.utf8'
  }
}

resource entraAdmin 'Microsoft.DBforPostgreSQL/flexibleServers/administrators@2024-08-01' = {
  parent: server
  dependsOn: [database]
  name: entraAdministrator.objectId
  properties: {
    principalName: entraAdministrator.name
    principalType: entraAdministrator.type
    tenantId: subscription().tenantId
  }
}

// Not 0.0.0.0 (all of Azure, any tenant's app included): the app's own outbound address and the ranges given.
// The server takes one operation at a time, so its child resources are created one after another.
resource allowApp 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = {
  parent: server
  dependsOn: [entraAdmin]
  name: 'AllowFunctionApp'
  properties: {
    startIpAddress: appOutboundIpAddress
    endIpAddress: appOutboundIpAddress
  }
}

@batchSize(1)
resource allowRanges 'Microsoft.DBforPostgreSQL/flexibleServers/firewallRules@2024-08-01' = [
  for range in allowedIpRanges: {
    parent: server
    dependsOn: [allowApp]
    name: range.name
    properties: {
      startIpAddress: range.startIpAddress
      endIpAddress: range.endIpAddress
    }
  }
]

output serverName string = server.name
output host string = server.properties.fullyQualifiedDomainName
output databaseName string = database.name
