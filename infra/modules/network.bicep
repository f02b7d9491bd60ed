// A virtual network for the Function App's outbound traffic, leaving through a NAT gateway with one static public
// address: PostgreSQL's firewall admits that address instead of all of Azure.

param location string
param name string
param tags object

resource outboundAddress 'Microsoft.Network/publicIPAddresses@2024-05-01' = {
  name: '${name}-nat-ip'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIPAllocationMethod: 'Static'
  }
}

resource nat 'Microsoft.Network/natGateways@2024-05-01' = {
  name: '${name}-nat'
  location: location
  tags: tags
  sku: {
    name: 'Standard'
  }
  properties: {
    publicIpAddresses: [
      { id: outboundAddress.id }
    ]
  }
}

resource vnet 'Microsoft.Network/virtualNetworks@2024-05-01' = {
  name: '${name}-vnet'
  location: location
  tags: tags
  properties: {
    addressSpace: {
      addressPrefixes: ['10.40.0.0/16']
    }
    subnets: [
      {
        // Flex Consumption integrates with a subnet delegated to Microsoft.App/environments.
        name: 'functions'
        properties: {
          addressPrefix: '10.40.0.0/24'
          natGateway: { id: nat.id }
          delegations: [
            {
              name: 'flex-consumption'
              properties: { serviceName: 'Microsoft.App/environments' }
            }
          ]
        }
      }
    ]
  }
}

output functionsSubnetId string = vnet.properties.subnets[0].id
output outboundIpAddress string = outboundAddress.properties.ipAddress
