// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

/// @title ModelRegistry
/// @notice Model CID digest → owner, name and versions. A model is registered under the digest of its
///         first CID (the sha2-256 digest inside the CID, docs/receipts.md); each later version is another
///         CID digest that only the owner can publish. Every CID (first or later) maps back to its model.
contract ModelRegistry {
    struct Model {
        address owner;
        string name;
        bytes32[] versions;
    }

    uint256 public constant MAX_NAME_LENGTH = 256;
    uint256 public constant MAX_VERSIONS = 1024;

    mapping(bytes32 model => Model) private _models;
    /// @notice Version CID digest → the model it belongs to (zero when unknown).
    mapping(bytes32 cid => bytes32 model) public modelOf;
    uint256 public modelCount;

    event ModelRegistered(bytes32 indexed model, address indexed owner, string name);
    event VersionPublished(bytes32 indexed model, uint256 indexed version, bytes32 indexed cid);
    event ModelOwnershipTransferred(bytes32 indexed model, address indexed previousOwner, address indexed newOwner);

    error ZeroCid();
    error CidTaken(bytes32 cid);
    error UnknownModel(bytes32 model);
    error NotModelOwner(bytes32 model, address caller);
    error NameTooLong(uint256 length);
    error TooManyVersions(bytes32 model);
    error ZeroOwner();

    /// @notice Registers `model` (a CID digest) with the caller as owner; it is also version 0.
    function register(bytes32 model, string calldata name) external {
        if (model == bytes32(0)) revert ZeroCid();
        if (modelOf[model] != bytes32(0)) revert CidTaken(model);
        if (bytes(name).length > MAX_NAME_LENGTH) revert NameTooLong(bytes(name).length);
        Model storage m = _models[model];
        m.owner = msg.sender;
        m.name = name;
        m.versions.push(model);
        modelOf[model] = model;
        modelCount++;
        emit ModelRegistered(model, msg.sender, name);
        emit VersionPublished(model, 0, model);
    }

    /// @notice Publishes a new version `cid` of `model`; owner only. Returns the version number.
    function publishVersion(bytes32 model, bytes32 cid) external returns (uint256 version) {
        Model storage m = _owned(model);
        if (cid == bytes32(0)) revert ZeroCid();
        if (modelOf[cid] != bytes32(0)) revert CidTaken(cid);
        if (m.versions.length >= MAX_VERSIONS) revert TooManyVersions(model);
        version = m.versions.length;
        m.versions.push(cid);
        modelOf[cid] = model;
        emit VersionPublished(model, version, cid);
    }

    /// @notice Hands `model` to `newOwner`; owner only.
    function transferOwnership(bytes32 model, address newOwner) external {
        Model storage m = _owned(model);
        if (newOwner == address(0)) revert ZeroOwner();
        emit ModelOwnershipTransferred(model, m.owner, newOwner);
        m.owner = newOwner;
    }

    function ownerOf(bytes32 model) external view returns (address) {
        return _models[model].owner;
    }

    function nameOf(bytes32 model) external view returns (string memory) {
        return _models[model].name;
    }

    function versionCount(bytes32 model) external view returns (uint256) {
        return _models[model].versions.length;
    }

    function versionAt(bytes32 model, uint256 index) external view returns (bytes32) {
        return _models[model].versions[index];
    }

    function latestVersion(bytes32 model) external view returns (bytes32) {
        Model storage m = _models[model];
        if (m.owner == address(0)) revert UnknownModel(model);
        return m.versions[m.versions.length - 1];
    }

    function versions(bytes32 model) external view returns (bytes32[] memory) {
        return _models[model].versions;
    }

    /// @notice True when `cid` is a registered model or one of its versions.
    function isRegistered(bytes32 cid) external view returns (bool) {
        return modelOf[cid] != bytes32(0);
    }

    function _owned(bytes32 model) private view returns (Model storage m) {
        m = _models[model];
        if (m.owner == address(0)) revert UnknownModel(model);
        if (m.owner != msg.sender) revert NotModelOwner(model, msg.sender);
    }
}
