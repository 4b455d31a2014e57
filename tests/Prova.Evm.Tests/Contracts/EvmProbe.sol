// SPDX-License-Identifier: MIT
pragma solidity ^0.8.28;

/// Test contract for Prova.Evm: every ABI shape the bindings must handle.
contract EvmProbe {
    struct Entry {
        address owner;
        uint64 amount;
        bytes32 tag;
    }

    struct Batch {
        bytes32 root;
        string note;
        uint32[] sizes;
    }

    error TooSmall(uint256 have, uint256 want);
    error NotOwner(address caller);

    event Stored(address indexed by, uint256 indexed key, string note, uint256 value);
    event BatchPosted(bytes32 indexed root, Batch batch);
    event Paid(address indexed from, uint256 amount);

    address public immutable owner;
    uint256 public counter;
    mapping(uint256 => uint256) public values;
    Entry[] private _entries;

    constructor(uint256 start) payable {
        owner = msg.sender;
        counter = start;
    }

    function store(uint256 key, uint256 value, string calldata note) external {
        values[key] = value;
        counter += 1;
        emit Stored(msg.sender, key, note, value);
    }

    function addEntry(Entry calldata entry) external returns (uint256 index) {
        _entries.push(entry);
        return _entries.length - 1;
    }

    function entry(uint256 index) external view returns (Entry memory) {
        return _entries[index];
    }

    function postBatch(Batch calldata batch) external {
        emit BatchPosted(batch.root, batch);
    }

    function echo(Batch calldata batch, int16 signed, bytes calldata blob, address[] calldata who, bool flag)
        external
        pure
        returns (Batch memory, int16, bytes memory, address[] memory, bool)
    {
        return (batch, signed, blob, who, flag);
    }

    function pair(uint8 a, uint8 b) external pure returns (uint256 sum, uint8 product) {
        return (uint256(a) + b, a * b);
    }

    function needAtLeast(uint256 amount) external pure returns (uint256) {
        if (amount < 10) revert TooSmall(amount, 10);
        return amount;
    }

    function onlyOwner() external view returns (bool) {
        if (msg.sender != owner) revert NotOwner(msg.sender);
        return true;
    }

    function requirePositive(int256 x) external pure returns (int256) {
        require(x > 0, "x must be positive");
        return x;
    }

    function divide(uint256 a, uint256 b) external pure returns (uint256) {
        return a / b;
    }

    function failStore(uint256 key) external {
        values[key] = 1;
        revert TooSmall(key, key + 1);
    }

    function pay() external payable {
        emit Paid(msg.sender, msg.value);
    }
}
