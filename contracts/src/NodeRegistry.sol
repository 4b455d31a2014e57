// SPDX-License-Identifier: MIT
pragma solidity ^0.8.24;

interface ISettlementDisputes {
    function openChallengesAgainst(address node) external view returns (uint256);
}

/// @title NodeRegistry
/// @notice Nodes stake the native token, declare an endpoint and the models they serve, unbond after a
///         delay, and can be slashed only by the Settlement contract (set once by the deployer).
///         A node is active (eligible for work and committees) while its bonded stake ≥ minStake.
contract NodeRegistry {
    struct Node {
        uint256 stake; // bonded, slashable, counts for committee selection while active
        uint256 unbonding; // requested for withdrawal; still slashable until withdrawn
        uint64 unlockAt; // when `unbonding` can be withdrawn
        bool registered;
        bool active;
        string endpoint;
        bytes32[] models;
    }

    uint256 public constant MAX_ACTIVE_NODES = 256;
    uint256 public constant MAX_MODELS = 64;
    uint256 public constant MAX_ENDPOINT_LENGTH = 256;

    uint256 public immutable minStake;
    uint64 public immutable unbondingDelay;
    address public immutable deployer;
    address public settlement;

    /// @notice Sum of the bonded stake of active nodes.
    uint256 public totalStake;
    mapping(address node => Node) private _nodes;
    address[] private _active;
    mapping(address node => uint256) private _activeIndexPlusOne;

    event NodeRegistered(address indexed node, string endpoint, uint256 stake);
    event StakeAdded(address indexed node, uint256 amount, uint256 stake);
    event EndpointChanged(address indexed node, string endpoint);
    event ModelsChanged(address indexed node, bytes32[] models);
    event UnbondRequested(address indexed node, uint256 amount, uint64 unlockAt);
    event Withdrawn(address indexed node, uint256 amount);
    event Slashed(address indexed node, uint256 amount);
    event ActiveChanged(address indexed node, bool active);
    event SettlementSet(address indexed settlement);

    error AlreadyRegistered(address node);
    error NotRegistered(address node);
    error StakeTooLow(uint256 stake, uint256 minStake);
    error ZeroAmount();
    error InsufficientStake(uint256 requested, uint256 stake);
    error StillLocked(uint64 unlockAt);
    error NothingToWithdraw();
    error OnlySettlement();
    error OnlyDeployer();
    error SettlementAlreadySet();
    error ZeroAddress();
    error RegistryFull();
    error EndpointTooLong(uint256 length);
    error TooManyModels(uint256 count);
    error TransferFailed();
    error UnderChallenge(address node);

    constructor(uint256 minStake_, uint64 unbondingDelay_) {
        if (minStake_ == 0) revert ZeroAmount();
        minStake = minStake_;
        unbondingDelay = unbondingDelay_;
        deployer = msg.sender;
    }

    /// @notice Wires the Settlement contract, the only account allowed to slash. Once, by the deployer.
    function setSettlement(address settlement_) external {
        if (msg.sender != deployer) revert OnlyDeployer();
        if (settlement != address(0)) revert SettlementAlreadySet();
        if (settlement_ == address(0)) revert ZeroAddress();
        settlement = settlement_;
        emit SettlementSet(settlement_);
    }

    /// @notice Registers the caller as a node with `msg.value` stake (≥ minStake), its endpoint and models.
    function register(string calldata endpoint, bytes32[] calldata models) external payable {
        Node storage n = _nodes[msg.sender];
        if (n.registered) revert AlreadyRegistered(msg.sender);
        if (msg.value < minStake) revert StakeTooLow(msg.value, minStake);
        _checkEndpoint(endpoint);
        _checkModels(models);
        n.registered = true;
        n.stake = msg.value;
        n.endpoint = endpoint;
        n.models = models;
        _updateActive(msg.sender, n);
        emit NodeRegistered(msg.sender, endpoint, msg.value);
        emit ModelsChanged(msg.sender, models);
    }

    /// @notice Adds `msg.value` to the caller's bonded stake (re-activating it once ≥ minStake).
    function addStake() external payable {
        Node storage n = _registered(msg.sender);
        if (msg.value == 0) revert ZeroAmount();
        n.stake += msg.value;
        if (n.active) totalStake += msg.value;
        _updateActive(msg.sender, n);
        emit StakeAdded(msg.sender, msg.value, n.stake);
    }

    function setEndpoint(string calldata endpoint) external {
        Node storage n = _registered(msg.sender);
        _checkEndpoint(endpoint);
        n.endpoint = endpoint;
        emit EndpointChanged(msg.sender, endpoint);
    }

    function setModels(bytes32[] calldata models) external {
        Node storage n = _registered(msg.sender);
        _checkModels(models);
        n.models = models;
        emit ModelsChanged(msg.sender, models);
    }

    /// @notice Moves `amount` of bonded stake to unbonding; it can be withdrawn `unbondingDelay` after the
    ///         latest request and stays slashable until then. Dropping below minStake deactivates the node.
    function requestUnbond(uint256 amount) external {
        Node storage n = _registered(msg.sender);
        if (amount == 0) revert ZeroAmount();
        if (amount > n.stake) revert InsufficientStake(amount, n.stake);
        n.stake -= amount;
        if (n.active) totalStake -= amount;
        n.unbonding += amount;
        uint64 unlockAt = uint64(block.timestamp) + unbondingDelay;
        n.unlockAt = unlockAt;
        _updateActive(msg.sender, n);
        emit UnbondRequested(msg.sender, amount, unlockAt);
    }

    /// @notice Pays out the caller's unbonded stake once its delay has passed and no challenge against it
    ///         is open.
    function withdraw() external {
        Node storage n = _registered(msg.sender);
        uint256 amount = n.unbonding;
        if (amount == 0) revert NothingToWithdraw();
        if (block.timestamp < n.unlockAt) revert StillLocked(n.unlockAt);
        if (settlement != address(0) && ISettlementDisputes(settlement).openChallengesAgainst(msg.sender) != 0) {
            revert UnderChallenge(msg.sender);
        }
        n.unbonding = 0;
        emit Withdrawn(msg.sender, amount);
        (bool ok,) = msg.sender.call{value: amount}("");
        if (!ok) revert TransferFailed();
    }

    /// @notice Takes up to `amount` from `node` (bonded stake first, then unbonding) and sends it to the
    ///         Settlement contract. Only the Settlement contract can call this. Returns what was taken.
    function slash(address node, uint256 amount) external returns (uint256 taken) {
        if (msg.sender != settlement || settlement == address(0)) revert OnlySettlement();
        Node storage n = _nodes[node];
        if (!n.registered) revert NotRegistered(node);
        uint256 fromStake = amount < n.stake ? amount : n.stake;
        n.stake -= fromStake;
        if (n.active) totalStake -= fromStake;
        uint256 rest = amount - fromStake;
        uint256 fromUnbonding = rest < n.unbonding ? rest : n.unbonding;
        n.unbonding -= fromUnbonding;
        taken = fromStake + fromUnbonding;
        _updateActive(node, n);
        emit Slashed(node, taken);
        if (taken > 0) {
            (bool ok,) = msg.sender.call{value: taken}("");
            if (!ok) revert TransferFailed();
        }
    }

    // ---- views (committee selection, clients, nodes) ----

    function stakeOf(address node) external view returns (uint256) {
        return _nodes[node].stake;
    }

    /// @notice Bonded plus unbonding stake: what a slash can still reach.
    function slashableOf(address node) external view returns (uint256) {
        return _nodes[node].stake + _nodes[node].unbonding;
    }

    function isActive(address node) external view returns (bool) {
        return _nodes[node].active;
    }

    function isRegistered(address node) external view returns (bool) {
        return _nodes[node].registered;
    }

    function getNode(address node)
        external
        view
        returns (uint256 stake, uint256 unbonding, uint64 unlockAt, bool active, string memory endpoint)
    {
        Node storage n = _nodes[node];
        return (n.stake, n.unbonding, n.unlockAt, n.active, n.endpoint);
    }

    function endpointOf(address node) external view returns (string memory) {
        return _nodes[node].endpoint;
    }

    function modelsOf(address node) external view returns (bytes32[] memory) {
        return _nodes[node].models;
    }

    function servesModel(address node, bytes32 model) external view returns (bool) {
        bytes32[] storage models = _nodes[node].models;
        for (uint256 i = 0; i < models.length; i++) {
            if (models[i] == model) return true;
        }
        return false;
    }

    function activeNodeCount() external view returns (uint256) {
        return _active.length;
    }

    function activeNodes() external view returns (address[] memory) {
        return _active;
    }

    /// @notice Active nodes and their bonded stakes, in one call (committee selection).
    function activeNodesWithStake() external view returns (address[] memory nodes, uint256[] memory stakes) {
        nodes = _active;
        stakes = new uint256[](nodes.length);
        for (uint256 i = 0; i < nodes.length; i++) {
            stakes[i] = _nodes[nodes[i]].stake;
        }
    }

    // ---- internals ----

    function _registered(address node) private view returns (Node storage n) {
        n = _nodes[node];
        if (!n.registered) revert NotRegistered(node);
    }

    function _updateActive(address node, Node storage n) private {
        bool shouldBe = n.stake >= minStake;
        if (shouldBe == n.active) return;
        if (shouldBe) {
            if (_active.length >= MAX_ACTIVE_NODES) revert RegistryFull();
            _active.push(node);
            _activeIndexPlusOne[node] = _active.length;
            totalStake += n.stake;
        } else {
            uint256 index = _activeIndexPlusOne[node] - 1;
            address last = _active[_active.length - 1];
            _active[index] = last;
            _activeIndexPlusOne[last] = index + 1;
            _active.pop();
            delete _activeIndexPlusOne[node];
            totalStake -= n.stake;
        }
        n.active = shouldBe;
        emit ActiveChanged(node, shouldBe);
    }

    function _checkEndpoint(string calldata endpoint) private pure {
        if (bytes(endpoint).length > MAX_ENDPOINT_LENGTH) revert EndpointTooLong(bytes(endpoint).length);
    }

    function _checkModels(bytes32[] calldata models) private pure {
        if (models.length > MAX_MODELS) revert TooManyModels(models.length);
    }
}
